import math

import pytest
import torch

from shared import (LossTerms, NonFiniteLossError, OptimConfig, deferred_interrupts,
                    interrupt_requested, note_interrupt, optimize)


def quadratic(target: torch.Tensor, scales: torch.Tensor):
    def loss(x: torch.Tensor) -> LossTerms:
        a = (scales * (x - target) ** 2).sum()
        return LossTerms(total=a, terms={"quad": a})
    return loss


def rosenbrock(x: torch.Tensor) -> torch.Tensor:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_reaches_quadratic_optimum(line_search):
    torch.manual_seed(0)
    target = torch.randn(4, 5, dtype=torch.float64)
    scales = torch.rand(4, 5, dtype=torch.float64) * 10 + 0.1
    start = torch.zeros(4, 5, dtype=torch.float64)
    res = optimize(start, quadratic(target, scales),
                   OptimConfig(iterations=100, line_search=line_search), quiet=True)
    torch.testing.assert_close(res.variable, target, atol=1e-6, rtol=0)
    assert res.loss < 1e-10
    assert torch.equal(start, torch.zeros(4, 5, dtype=torch.float64))  # caller's tensor untouched
    assert not res.variable.requires_grad
    assert res.evaluations >= res.iterations >= 1
    assert set(res.history[0]) == {"total", "quad"}


def test_lbfgs_strong_wolfe_solves_rosenbrock():
    res = optimize(torch.tensor([-1.2, 1.0], dtype=torch.float64), rosenbrock,
                   OptimConfig(iterations=200, line_search="strong_wolfe"), quiet=True)
    torch.testing.assert_close(res.variable, torch.tensor([1.0, 1.0], dtype=torch.float64),
                               atol=1e-4, rtol=0)


def test_adam_reaches_optimum_and_counts():
    target = torch.tensor([3.0, -2.0, 0.5])
    res = optimize(torch.zeros(3), quadratic(target, torch.ones(3)),
                   OptimConfig(optimizer="adam", iterations=800, lr=0.05), quiet=True)
    torch.testing.assert_close(res.variable, target, atol=1e-3, rtol=0)
    assert res.iterations == 800
    assert res.evaluations == 801  # one per step plus the final iterate
    assert len(res.history) == 800
    assert res.history[-1]["total"] < res.history[0]["total"]


def test_lbfgs_follows_scipy_lbfgsb():
    """The L-BFGS is the reference's L-BFGS-B (SciPy, unbounded): same iterates on Rosenbrock,
    and no more evaluations than it."""
    from scipy.optimize import minimize

    calls = []

    def loss(x):
        calls.append(1)
        return rosenbrock(x)

    res = optimize(torch.tensor([-1.2, 1.0], dtype=torch.float64), loss,
                   OptimConfig(iterations=25), quiet=True)
    assert res.evaluations == len(calls)

    def fun(v):
        x = torch.tensor(v, requires_grad=True)
        value = rosenbrock(x)
        value.backward()
        return float(value.detach()), x.grad.numpy()

    ref = minimize(fun, [-1.2, 1.0], jac=True, method="L-BFGS-B",
                   options={"maxiter": 25, "ftol": 0, "gtol": 0})
    torch.testing.assert_close(res.variable, torch.tensor(ref.x), atol=1e-6, rtol=0)
    assert res.evaluations <= ref.nfev


def test_lbfgs_spends_about_one_evaluation_per_iteration():
    torch.manual_seed(0)
    target = torch.randn(200, dtype=torch.float64)
    scales = torch.logspace(0, 3, 200, dtype=torch.float64)
    res = optimize(torch.zeros(200, dtype=torch.float64), quadratic(target, scales),
                   OptimConfig(iterations=40), quiet=True)
    assert res.iterations == 40 and res.evaluations <= 1.2 * res.iterations + 2


def test_callback_every_n():
    seen = []
    optimize(torch.zeros(3), lambda x: ((x - 1) ** 2).sum(),
             OptimConfig(optimizer="adam", iterations=10, lr=0.1),
             callback=lambda it, x, loss: seen.append((it, x.shape, loss)), callback_every=3,
             quiet=True)
    assert [s[0] for s in seen] == [3, 6, 9]
    assert all(s[1] == (3,) and math.isfinite(s[2]) for s in seen)


def test_nan_loss_raises_with_best():
    def loss(x):
        value = ((x - 1) ** 2).sum()
        return value if loss.calls < 5 else value * float("nan")

    loss.calls = 0

    def counted(x):
        loss.calls += 1
        return loss(x)

    with pytest.raises(NonFiniteLossError, match="nan") as info:
        optimize(torch.zeros(3), counted, OptimConfig(optimizer="adam", iterations=50), quiet=True)
    assert info.value.best is not None and info.value.best.shape == (3,)


def test_infinite_gradient_raises():
    with pytest.raises(NonFiniteLossError):
        optimize(torch.zeros(2), lambda x: x.sqrt().sum(), OptimConfig(iterations=3), quiet=True)


def test_keyboard_interrupt_returns_best_so_far():
    state = {"n": 0}

    def loss(x):
        state["n"] += 1
        if state["n"] == 20:
            raise KeyboardInterrupt
        return ((x - 2) ** 2).sum()

    res = optimize(torch.zeros(3), loss, OptimConfig(optimizer="adam", iterations=100, lr=0.1),
                   quiet=True)
    assert res.interrupted
    assert res.iterations == 19
    assert res.loss < 12.0  # better than the start (3 * 2**2)
    assert res.loss == pytest.approx(((res.variable - 2) ** 2).sum().item(), rel=1e-6)


def test_converged_lbfgs_stops_early():
    res = optimize(torch.zeros(3, dtype=torch.float64), lambda x: ((x - 1) ** 2).sum(),
                   OptimConfig(iterations=100), quiet=True)
    assert res.converged and res.iterations < 100 and res.loss == 0.0


def test_zero_iterations_returns_start():
    res = optimize(torch.ones(2), lambda x: (x**2).sum(), OptimConfig(iterations=0), quiet=True)
    assert res.iterations == 0 and res.loss == pytest.approx(2.0)


@pytest.mark.parametrize("kwargs", [dict(optimizer="sgd"), dict(iterations=-1),
                                    dict(lr=0.0), dict(history_size=0),
                                    dict(line_search="armijo")])
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        OptimConfig(**kwargs)


def test_rejects_bad_variable():
    with pytest.raises(TypeError):
        optimize(torch.zeros(3, dtype=torch.long), lambda x: x.sum(), quiet=True)
    with pytest.raises(TypeError):
        optimize(torch.zeros(3), lambda x: "nope", OptimConfig(iterations=1), quiet=True)


def test_lbfgs_restarts_once_after_a_non_finite_trial():
    calls = {"n": 0}

    def loss(x):  # one overflowing evaluation (the 5th), as an overshooting line search gives
        calls["n"] += 1
        value = ((x - 1) ** 2 * torch.arange(1.0, 4.0, dtype=x.dtype)).sum()
        return value * float("inf") if calls["n"] == 5 else value

    res = optimize(torch.zeros(3, dtype=torch.float64), loss,
                   OptimConfig(iterations=30, line_search="strong_wolfe"), quiet=True)
    assert res.restarts >= 1  # the memory was reset after the overflow (and at the optimum)
    torch.testing.assert_close(res.variable, torch.ones(3, dtype=torch.float64))

    def always_bad(x):  # every point but the start is non-finite: the restart fails too
        value = ((x - 1) ** 2).sum()
        return value if float(x.detach().abs().max()) == 0 else value * float("nan")

    with pytest.raises(NonFiniteLossError):
        optimize(torch.zeros(3), always_bad, OptimConfig(iterations=5), quiet=True)


def test_ctrl_c_inside_an_lbfgs_line_search_returns_the_best_point():
    """Ctrl-C during the first line search (its bracketing trials) or a later one: the best
    point evaluated so far comes back, marked interrupted."""
    for stop_at in (3, 9):
        seen = []

        def loss(x, stop_at=stop_at):
            if len(seen) + 1 == stop_at:
                raise KeyboardInterrupt
            value = rosenbrock(x)
            seen.append(float(value.detach()))
            return value

        res = optimize(torch.tensor([-1.2, 1.0], dtype=torch.float64), loss,
                       OptimConfig(iterations=50), quiet=True)
        assert res.interrupted and res.evaluations == stop_at - 1
        assert res.loss == min(seen)
        assert stop_at == 3 or res.loss < seen[0]  # by the 9th evaluation it has moved
        assert res.loss == pytest.approx(float(rosenbrock(res.variable)))


def test_ctrl_c_in_adams_final_evaluation_keeps_the_steps():
    calls = {"n": 0}

    def loss(x):
        calls["n"] += 1
        if calls["n"] == 11:  # the evaluation of the last step's result
            raise KeyboardInterrupt
        return ((x - 2) ** 2).sum()

    res = optimize(torch.zeros(3), loss, OptimConfig(optimizer="adam", iterations=10, lr=0.1),
                   quiet=True)
    assert res.interrupted and res.iterations == 10 and res.evaluations == 10
    assert res.loss < 12.0


def test_a_deferred_ctrl_c_stops_the_running_and_later_loops_and_a_second_one_aborts() -> None:
    """Under deferred_interrupts the first SIGINT raises nothing where it lands; the loop it
    landed in stops after that iteration with its best, a later loop before its first
    iteration; a second SIGINT raises; leaving the block clears the request."""
    import signal

    def quadratic(x: torch.Tensor) -> torch.Tensor:
        return (x - 3.0).square().sum()

    calls = []

    def ctrl_c_at_third(x: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)  # lands inside the loss, mid-iteration
        return quadratic(x)

    cfg = OptimConfig(optimizer="adam", iterations=50, lr=0.1)
    with deferred_interrupts():
        running = optimize(torch.zeros(4), ctrl_c_at_third, cfg, quiet=True)
        assert interrupt_requested()
        later = optimize(torch.zeros(4), quadratic, cfg, quiet=True)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert running.interrupted and 1 <= running.iterations <= 3
    assert running.loss < quadratic(torch.zeros(4)).item()  # its best, not the start
    assert later.interrupted and later.iterations == 0
    assert not interrupt_requested()
    done = optimize(torch.zeros(4), quadratic, cfg, quiet=True)
    assert not done.interrupted and done.iterations == 50
    with pytest.raises(KeyboardInterrupt):  # outside the block Ctrl-C raises where it lands
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_noted_for_the_process_counts_as_the_first_one() -> None:
    """note_interrupt (a Ctrl-C this process missed, passed on by its parent) stops a loop
    under deferred_interrupts as a landed one does: the next SIGINT is the second and
    raises; leaving the block clears it."""
    import signal

    def quadratic(x: torch.Tensor) -> torch.Tensor:
        return (x - 3.0).square().sum()

    cfg = OptimConfig(optimizer="adam", iterations=50, lr=0.1)
    with deferred_interrupts():
        note_interrupt()
        stopped = optimize(torch.zeros(4), quadratic, cfg, quiet=True)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert stopped.interrupted and stopped.iterations == 0
    assert not interrupt_requested()
    assert optimize(torch.zeros(4), quadratic, cfg, quiet=True).iterations == 50
