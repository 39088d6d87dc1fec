"""``python -m lsqcore study`` and ``bench``: they run and write their plots."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from lsqcore import problems
from lsqcore.cli import main
from lsqcore.cli.bench import performance_profile, solved

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_png(path):
    mpimg = pytest.importorskip("matplotlib.image")
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 300
    # not a blank canvas: plenty of distinct colours
    assert len(np.unique(img.reshape(-1, img.shape[2])[::7], axis=0)) > 30
    return img


# ---------------------------------------------------------------- study

def test_study_runs_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rosen.png"
    assert main(["study", "rosenbrock", "--methods", "gn,lm,trf", "--plot", str(out)]) == 0
    text = capsys.readouterr().out
    for method in ("gn", "lm", "trf"):
        assert f"== {method} " in text
        assert f"{method} trace:" in text
    assert "Summary" in text and "Cost after each iteration" in text
    summary = [ln for ln in text.splitlines() if "iterations" in ln and "status" in ln]
    assert len(summary) == 3
    assert all("final cost 0.0000000000e+00" in ln or "e-" in ln for ln in summary)
    # the side-by-side table starts at the common starting cost
    row0 = [ln for ln in text.splitlines() if ln.strip().startswith("0 ")][-1].split()
    assert row0[1:] == ["1.210000e+01"] * 3
    img = read_png(out)
    assert img.shape[1] > 1.8 * img.shape[0]          # two panels: cost and contours


def test_study_options(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "helical.png"
    rc = main(["study", "helical_valley", "--methods", "trf,lm", "--start", "2",
               "--jac", "3-point", "--summary-only", "--plot", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "start 2" in text and "jac = 3-point" in text
    assert "== trf" not in text                        # --summary-only
    assert text.count("iterations") == 2
    img = read_png(out)
    assert img.shape[1] < 1.5 * img.shape[0]          # n = 3: the cost panel only


def test_study_robust_loss(capsys):
    assert main(["study", "Chwirut2", "--methods", "trf,gn,lm", "--loss", "cauchy",
                 "--f-scale", "3", "--max-params", "2"]) == 0
    text = capsys.readouterr().out
    assert "rms rho" in text                           # trf and gn ran with the loss
    assert "loss = cauchy" in text


@pytest.mark.parametrize("argv,msg", [
    (["study", "no_such_problem"], "unknown problem"),
    (["study", "rosenbrock", "--methods", "trf,dogbox"], "--methods"),
    (["study", "Misra1a", "--start", "3"], "--start must be between 1 and 2"),
])
def test_study_errors(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


def test_plot_without_matplotlib(monkeypatch, tmp_path, capsys):
    """A clear message, not a traceback, when matplotlib is missing."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "x.png"
    assert main(["study", "rosenbrock", "--plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "matplotlib" in err and "lsqcore[plot]" in err
    assert not out.exists()
    assert main(["bench", "--suite", "mgh", "--problems", "beale", "--profile", str(out)]) == 2
    assert "lsqcore[plot]" in capsys.readouterr().err


def test_module_entry_point():
    """``python -m lsqcore study`` from a shell."""
    r = subprocess.run([sys.executable, "-m", "lsqcore", "study", "beale", "--methods", "lm",
                        "--summary-only"], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "lm   iterations" in r.stdout


# ---------------------------------------------------------------- bench

def test_bench_compiled_nist_with_profile(tmp_path, capsys):
    """Every solver on one NIST case, lsqcore through the compiled driver."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "profile.png"
    rc = main(["bench", "--suite", "nist", "--problems", "Misra1a", "--starts", "2",
               "--repeat", "2", "--profile", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "suite nist: 1 problems, 1 cases" in text and "lsqcore driver: compiled" in text
    rows = {ln[:14].strip(): ln for ln in lines
            if ln.startswith(("lsqcore ", "scipy ")) and "/" in ln}
    assert set(rows) == {"lsqcore trf", "lsqcore dogbox", "lsqcore lm", "lsqcore gn",
                         "scipy trf", "scipy lm", "scipy dogbox"}
    for name, ln in rows.items():
        assert "1/1" in ln, ln                         # Misra1a from start 2: all solve it
    assert "vs scipy trf" in rows["lsqcore trf"] and "vs scipy lm" in rows["lsqcore lm"]
    assert "vs scipy dogbox" in rows["lsqcore dogbox"]
    read_png(out)


def test_bench_mgh_python_driver_detail(capsys):
    rc = main(["bench", "--suite", "mgh", "--problems", "rosenbrock,freudenstein_roth",
               "--starts", "1", "--methods", "trf,lm,gn,scipy-trf", "--driver", "python",
               "--repeat", "1", "--detail"])
    assert rc == 0
    captured = capsys.readouterr()
    text = captured.out
    # a line per problem as it goes, on stderr (issue 14: no silent minutes)
    progress = [ln for ln in captured.err.splitlines() if ln.startswith("  [")]
    assert len(progress) == 2, captured.err
    assert progress[0].startswith("  [1/2] rosenbrock: solved lsqcore trf 1/1, lsqcore lm 1/1, "
                                  "lsqcore gn 1/1, scipy trf 1/1 (")
    assert progress[1].startswith("  [2/2] freudenstein_roth: solved lsqcore trf 1/1")
    assert "2 problems, 2 cases" in text
    detail = [ln for ln in text.splitlines() if ln.startswith(("rosenbrock /1",
                                                             "freudenstein_roth /1"))]
    assert len(detail) == 2
    # trf and lm reach the known local minimum of Freudenstein-Roth: solved
    fr = detail[1].split()
    assert fr[2] == "ok" and fr[6] == "ok"
    rows = [ln for ln in text.splitlines() if ln.startswith("lsqcore trf")]
    assert rows and "2/2" in rows[-1]


def test_bench_errors(capsys):
    assert main(["bench", "--suite", "nist", "--problems", "rosenbrock"]) == 2
    assert "not in suite nist" in capsys.readouterr().err
    assert main(["bench", "--methods", "trf,scipy-gn"]) == 2
    assert "unknown solver" in capsys.readouterr().err


def test_solved_criteria():
    class R:
        def __init__(self, x, cost):
            self.x, self.cost = np.asarray(x, float), cost
    nist = problems.get("Misra1a")
    assert solved(nist, R(nist.x_star * (1 + 2e-5), 0.0))      # LRE ~ 4.7
    assert not solved(nist, R(nist.x_star * (1 + 2e-4), 0.0))  # LRE ~ 3.7
    fr = problems.get("freudenstein_roth")
    assert solved(fr, R([5, 4], 0.0))
    assert solved(fr, R([11.41, -0.8968], fr.local_minima[0] * (1 + 5e-7)))
    assert not solved(fr, R([11.41, -0.8968], fr.local_minima[0] * (1 + 5e-6)))
    jen = problems.get("jennrich_sampson")
    assert solved(jen, R(jen.x_star, jen.cost_star * (1 + 1e-7)))
    assert not solved(jen, R(jen.x_star, jen.cost_star * (1 + 1e-5)))
    assert not solved(jen, R([np.nan, 0.0], jen.cost_star))


def test_performance_profile():
    inf = math.inf
    T = np.array([[1.0, 2.0, inf],
                  [4.0, 2.0, 8.0],
                  [inf, inf, inf],
                  [3.0, 3.0, 1.5]])
    taus, rho = performance_profile(T)
    assert taus[0] == 1.0 and np.all(np.diff(taus) > 0)
    at = dict(zip(taus, rho))
    # tau = 1: solver 0 best on case 0, solver 1 on case 1, solver 2 on case 3
    np.testing.assert_allclose(at[1.0], [0.25, 0.25, 0.25])
    np.testing.assert_allclose(at[2.0], [0.75, 0.75, 0.25])    # 4/2 and 3/1.5 are 2
    np.testing.assert_allclose(at[4.0], [0.75, 0.75, 0.5])     # 8/2 = 4
    np.testing.assert_allclose(rho[-1], [0.75, 0.75, 0.5])     # case 2: nobody solved it
    assert np.all(np.diff(rho, axis=0) >= 0)
