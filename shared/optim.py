"""The one optimisation loop shared by every optimisation-based method.

Audio style transfer (Ulyanov & Lebedev 2016: L-BFGS on the spectrogram), image style transfer
and texture synthesis (Gatys et al. 2015/2016: L-BFGS or Adam on the pixels) all call
:func:`optimize`; no method carries its own loop.

.. note:: **L-BFGS is the reference's L-BFGS-B, on the device.** The audio reference drives its
   loss with SciPy's L-BFGS-B (Byrd, Lu, Nocedal & Zhu; with no bounds it is plain L-BFGS):
   a memory of 10 pairs, curvature scalars in float64, a first step of ``1 / ||g||_2``, and
   the Moré-Thuente line search (MINPACK ``dcsrch``: sufficient decrease 1e-3, curvature 0.9,
   at most 20 evaluations); a search that fails resets the memory and retries along the
   gradient, and a second failure in a row ends the run. :class:`_LBFGS` is that algorithm
   with the vectors kept as float32 tensors on the variable's device (no host round trips)
   and every dot product accumulated in float64; the line search is SciPy's own ``DCSRCH``.

   What was wrong before (``torch.optim.LBFGS`` with a strong-Wolfe search, history 100):
   its first step is ``1 / ||g||_1`` (about ``sqrt(n)`` times shorter than ``1 / ||g||_2``
   for a 1025 x 431 spectrogram), so the first iteration and every restart were spent
   nearly standing still; its zoom keeps cutting the step until the bracket is narrower than
   1e-9 / max|d| (10 to 25 evaluations) before giving up, and then returns to the start point
   with the same direction, so one bad curvature pair makes every later iteration a failed
   10-evaluation search with no change (the reported texture stall: 544 evaluations in 50
   iterations, the loss flat from iteration 5); and its curvature test is absolute
   (``y.s > 1e-10``), which keeps float32 pairs that carry rounding noise rather than
   curvature when the loss is large. After the change: 1.0-1.1 evaluations per iteration on
   the audio transfer and texture, against 1.6-2.3 before, and final losses at or below the
   reference's (``docs/audio.md``, "Optimiser parity with the reference").

   ``line_search=None`` keeps neural-style's fixed-step L-BFGS (torch7 ``optim.lbfgs``): the
   step is ``lr`` (``min(1, 1 / ||g||_1) * lr`` on the first iteration) with no search.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal, Optional

import torch
from torch import Tensor

from .objective import LossTerms

OptimizerName = Literal["lbfgs", "adam"]
LossFn = Callable[[Tensor], "LossTerms | Tensor"]
Callback = Callable[[int, Tensor, float], None]

# L-BFGS-B's line-search constants (SciPy: ftol=1e-3, gtol=0.9, xtol=0.1, maxls=20).
_LS_DECREASE, _LS_CURVATURE, _LS_XTOL, _LS_MAX_EVALS, _LS_STEP_MAX = 1e-3, 0.9, 0.1, 20, 1e10


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``best`` holds the best variable seen before that."""

    def __init__(self, message: str, best: Optional[Tensor] = None, iteration: int = 0) -> None:
        super().__init__(message)
        self.best = best
        self.iteration = iteration


@dataclass
class OptimConfig:
    """Settings of :func:`optimize`."""

    optimizer: OptimizerName = "lbfgs"  # "lbfgs" (the references' choice) or "adam"
    iterations: int = 300  # optimiser iterations (L-BFGS iterations, or Adam steps)
    lr: Optional[float] = None  # step size; None means 1.0 for L-BFGS and 1e-2 for Adam
    history_size: int = 10  # L-BFGS: curvature pairs kept (SciPy L-BFGS-B's maxcor)
    line_search: Optional[Literal["strong_wolfe"]] = "strong_wolfe"  # None = fixed step
    tolerance_grad: float = 0.0  # L-BFGS: stop when max |grad| falls to this (0 = never)
    tolerance_change: float = 0.0  # L-BFGS: stop when a step lowers the loss by less than
    # this fraction of it (SciPy's ftol; 0 = never)

    def __post_init__(self) -> None:
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {self.optimizer!r}")
        if int(self.iterations) != self.iterations or self.iterations < 0:
            raise ValueError(f"iterations must be a non-negative integer, got {self.iterations}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive and finite, got {self.lr}")
        if self.history_size < 1:
            raise ValueError(f"history_size must be at least 1, got {self.history_size}")
        if self.line_search not in (None, "strong_wolfe"):
            raise ValueError(f"line_search must be None or 'strong_wolfe', got {self.line_search!r}")
        for name in ("tolerance_grad", "tolerance_change"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")


@dataclass
class OptimResult:
    """What :func:`optimize` returns.

    Attributes:
        variable: The best variable found, detached, of the input's shape.
        loss: Its loss.
        terms: Its loss terms as floats (``"total"`` and each term).
        history: One dict of loss terms per iteration, at the iterate the step started from.
        iterations: Iterations (optimiser steps) completed.
        evaluations: Loss-and-gradient evaluations (L-BFGS can spend more than one per step).
        interrupted: True when Ctrl-C stopped the loop early.
        converged: True when L-BFGS stopped before its budget (tolerances reached, or no
            step along the gradient lowers the loss any more).
        restarts: L-BFGS memory resets (failed line search, non-finite trial point).
        seconds: Wall time of the loop.
    """

    variable: Tensor
    loss: float
    terms: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    iterations: int = 0
    evaluations: int = 0
    interrupted: bool = False
    converged: bool = False
    restarts: int = 0
    seconds: float = 0.0


def _as_terms(value: "LossTerms | Tensor") -> LossTerms:
    if isinstance(value, LossTerms):
        return value
    if isinstance(value, Tensor) and value.numel() == 1:
        return LossTerms(total=value.reshape(()))
    raise TypeError(f"the loss function must return LossTerms or a scalar tensor, got {value!r}")


def _dot(a: Tensor, b: Tensor) -> float:
    """``<a, b>`` accumulated in float64 (float32 sums of 10^5..10^7 products drift)."""
    return float(torch.sum(a * b, dtype=torch.float64))


@dataclass
class _Point:
    """One evaluated point: the variable, its loss, gradient and loss terms."""

    x: Tensor
    loss: float
    grad: Tensor
    terms: dict[str, float]


class _Evaluator:
    """Loss-and-gradient evaluations, counted, checked for NaN/Inf, best point remembered."""

    def __init__(self, loss_fn: LossFn) -> None:
        self.loss_fn = loss_fn
        self.count = 0
        self.best: Optional[_Point] = None

    def __call__(self, x: Tensor) -> _Point:
        """Evaluate at ``x`` (a tensor the caller no longer modifies; it is kept as is)."""
        v = x.detach().requires_grad_(True)
        with torch.enable_grad():
            result = _as_terms(self.loss_fn(v))
            loss = result.total
            if not torch.isfinite(loss):
                raise self._non_finite(f"the loss became {float(loss.detach())}")
            (grad,) = torch.autograd.grad(loss, v)
        if not torch.isfinite(grad).all():
            raise self._non_finite("the gradient became non-finite")
        self.count += 1
        point = _Point(x.detach(), float(loss.detach()), grad.detach(), result.floats())
        if self.best is None or point.loss < self.best.loss:
            self.best = point
        return point

    def _non_finite(self, what: str) -> NonFiniteLossError:
        return NonFiniteLossError(
            f"{what} after {self.count} evaluations; lower the learning rate or the loss "
            "weights", best=None if self.best is None else self.best.x)


class _LBFGS:
    """L-BFGS iterations on one tensor (see the module note): float32 vectors, float64 scalars.

    Args:
        evaluate: The :class:`_Evaluator`.
        x0: Start point.
        history: Curvature pairs kept.
        lr: Scale of the first trial step of each line search (1 = L-BFGS-B's).
        line_search: ``True`` for the Moré-Thuente search, ``False`` for a fixed step ``lr``.
    """

    def __init__(self, evaluate: _Evaluator, x0: Tensor, history: int, lr: float,
                 line_search: bool) -> None:
        self.evaluate = evaluate
        self.history = history
        self.lr = lr
        self.line_search = line_search
        self.pairs: list[tuple[Tensor, Tensor, float]] = []  # (s, y, 1 / y.s), oldest first
        self.gamma = 1.0  # initial inverse Hessian scale, y.s / y.y of the newest pair
        self.resets = 0
        self.point = evaluate(x0)

    def reset(self) -> None:
        """Forget the curvature pairs (the next direction is the steepest descent)."""
        self.pairs.clear()
        self.gamma = 1.0
        self.resets += 1

    def direction(self, g: Tensor) -> Tensor:
        """``-H g`` by the two-loop recursion (Nocedal & Wright, Algorithm 7.4)."""
        q = g.clone()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * _dot(s, q)
            q.add_(y, alpha=-a)
            alphas.append(a)
        q.mul_(self.gamma)
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            b = rho * _dot(y, q)
            q.add_(s, alpha=a - b)
        return q.neg_()

    def step(self) -> bool:
        """One iteration; False when no step lowers the loss, not even along the gradient.

        A failed line search (or a non-finite trial point) resets the memory and tries again
        along the gradient, as L-BFGS-B does; a failure along the gradient is final.
        """
        for _ in range(2):
            d = self.direction(self.point.grad)
            gtd = _dot(self.point.grad, d)
            if not gtd < 0:  # not a descent direction: the memory is no use here
                self.reset()
                d = self.point.grad.neg()
                gtd = -_dot(d, d)
                if gtd == 0:
                    return False
            if self.pairs:
                t = self.lr
            elif self.line_search:
                t = min(1.0 / math.sqrt(-gtd), _LS_STEP_MAX) * self.lr  # L-BFGS-B: 1/||d||_2
            else:
                t = min(1.0, 1.0 / float(d.abs().sum())) * self.lr  # torch7 optim.lbfgs
            steepest = not self.pairs
            try:
                new = self._search(d, gtd, t) if self.line_search else self._fixed(d, t)
            except NonFiniteLossError:
                if steepest:
                    raise
                new = None
            if new is not None:
                self._update(new)
                return True
            if steepest:
                return False
            self.reset()
        return False

    def _fixed(self, d: Tensor, t: float) -> _Point:
        return self.evaluate(self.point.x + t * d)

    def _search(self, d: Tensor, gtd: float, t: float) -> Optional[_Point]:
        """Moré-Thuente line search along ``d`` from the current point; None if it fails."""
        from scipy.optimize._dcsrch import DCSRCH

        x0 = self.point.x
        trials: dict[float, _Point] = {}

        def at(step: float) -> _Point:
            if step not in trials:
                trials[step] = self.evaluate(x0 + step * d)
            return trials[step]

        search = DCSRCH(lambda s: at(s).loss, lambda s: _dot(at(s).grad, d), _LS_DECREASE,
                        _LS_CURVATURE, _LS_XTOL, 0.0, _LS_STEP_MAX)
        step, _, _, task = search(t, phi0=self.point.loss, derphi0=gtd, maxiter=_LS_MAX_EVALS)
        if step is None and task[:4] == b"WARN" and len(trials) < _LS_MAX_EVALS:
            # dcsrch's warnings (interval narrower than xtol, rounding errors, step at its
            # bound) end L-BFGS-B's search at its last trial; take it, or the best trial, if
            # it went down. SciPy's wrapper reports these as failures.
            last = list(trials.values())[-1]
            step = last if last.loss < self.point.loss else min(trials.values(),
                                                                key=lambda p: p.loss)
            return step if step.loss < self.point.loss else None
        if step is None or step not in trials or not trials[step].loss < self.point.loss:
            return None
        return trials[step]

    def _update(self, new: _Point) -> None:
        """Store the curvature pair of the step to ``new`` (skipped if ``y.s`` is not positive
        enough: L-BFGS-B's test ``y.s > eps * (-g.s)``) and move there."""
        s = new.x - self.point.x
        y = new.grad - self.point.grad
        ys = _dot(y, s)
        if ys > torch.finfo(s.dtype).eps * -_dot(self.point.grad, s):
            if len(self.pairs) == self.history:
                self.pairs.pop(0)
            self.pairs.append((s, y, 1.0 / ys))
            self.gamma = ys / _dot(y, y)
        self.point = new


class _StopRequest:
    """A Ctrl-C held back by :func:`deferred_interrupts` until :func:`optimize` can act on it."""

    requested = False  # set by the first SIGINT inside deferred_interrupts()
    depth = 0  # nesting of deferred_interrupts()


_STOP = _StopRequest()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """While inside, the first Ctrl-C (SIGINT) raises nothing where it lands: it is noted, and
    every :func:`optimize` call, the running one and any later one, stops at its next iteration
    (before its first, for a later one) and returns its best result with ``interrupted=True``.
    A second Ctrl-C raises ``KeyboardInterrupt`` as usual (an abort).

    For the processes of a torch.distributed group (:mod:`audiostyle.parallel`): a Ctrl-C
    that lands outside the optimisation (in a style Gram, say) would otherwise end that
    process alone, and the others would fail in their next collective instead of writing
    the best result so far. Outside the main thread it changes nothing (Python runs signal
    handlers there only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(signum: int, frame: object) -> None:
        if _STOP.requested:
            raise KeyboardInterrupt
        _STOP.requested = True

    previous = signal.signal(signal.SIGINT, note)
    _STOP.depth += 1
    try:
        yield
    finally:
        _STOP.depth -= 1
        signal.signal(signal.SIGINT, previous)
        if _STOP.depth == 0:
            _STOP.requested = False


def note_interrupt() -> None:
    """Note a Ctrl-C inside :func:`deferred_interrupts` as if it had landed here: for one
    this process missed (a spawned worker still starting, its parent caught it:
    :func:`audiostyle.parallel.spawn`). Cleared, like one that landed, on leaving."""
    _STOP.requested = True


def interrupt_requested() -> bool:
    """Whether a Ctrl-C was held back by :func:`deferred_interrupts` (and not yet cleared by
    leaving it)."""
    return _STOP.requested


def _postfix(terms: dict[str, float]) -> dict[str, str]:
    return {("loss" if k == "total" else k): f"{v:.4g}" for k, v in terms.items()}


def _check_inputs(variable: Tensor, callback_every: int) -> None:
    if not isinstance(variable, Tensor):
        raise TypeError(f"variable must be a torch.Tensor, got {type(variable).__name__}")
    if not variable.is_floating_point():
        raise TypeError(f"variable must be a floating-point tensor, got {variable.dtype}")
    if callback_every < 0:
        raise ValueError(f"callback_every must be >= 0, got {callback_every}")


class _Run:
    """The state of one :func:`optimize` call: the stepper, the history, the progress bar."""

    def __init__(self, variable: Tensor, loss_fn: LossFn, config: OptimConfig,
                 callback: Optional[Callback], callback_every: int, quiet: bool,
                 desc: str) -> None:
        from tqdm.auto import tqdm

        self.config = config
        self.callback = callback
        self.callback_every = callback_every
        self.evaluate = _Evaluator(loss_fn)
        self.x0 = variable.detach().clone()
        self.history: list[dict[str, float]] = []
        self.iterations = 0
        self.converged = False
        self.interrupted = False
        self.lbfgs: Optional[_LBFGS] = None
        self.adam_x: Optional[Tensor] = None
        self.bar = tqdm(total=config.iterations, desc=desc, disable=quiet, unit="it",
                        leave=False, dynamic_ncols=True)

    @property
    def restarts(self) -> int:
        return 0 if self.lbfgs is None else self.lbfgs.resets

    def run(self) -> None:
        """Iterate until the budget, convergence or Ctrl-C."""
        try:
            self._stop_if_requested()
            if self.config.optimizer == "lbfgs":
                self._run_lbfgs()
            else:
                self._run_adam()
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.bar.close()

    @staticmethod
    def _stop_if_requested() -> None:
        """A Ctrl-C held back by :func:`deferred_interrupts` stops the loop here."""
        if _STOP.requested:
            raise KeyboardInterrupt

    def _record(self, terms: dict[str, float], x: Tensor) -> None:
        self._stop_if_requested()
        self.iterations += 1
        self.history.append(terms)
        self.bar.update(1)
        self.bar.set_postfix(_postfix(terms), refresh=False)
        if self.callback is not None and self.callback_every and \
                self.iterations % self.callback_every == 0:
            self.callback(self.iterations, x.detach().clone(), terms["total"])

    def _run_lbfgs(self) -> None:
        cfg = self.config
        if cfg.iterations == 0:
            return
        self.lbfgs = lbfgs = _LBFGS(self.evaluate, self.x0, cfg.history_size,
                                    cfg.lr if cfg.lr is not None else 1.0,
                                    cfg.line_search is not None)
        while self.iterations < cfg.iterations:
            start = lbfgs.point
            if cfg.tolerance_grad and float(start.grad.abs().max()) <= cfg.tolerance_grad:
                self.converged = True
                return
            moved = lbfgs.step()
            if not moved:
                self.converged = True
                return
            self._record(start.terms, lbfgs.point.x)
            change = (start.loss - lbfgs.point.loss) / max(abs(start.loss), abs(lbfgs.point.loss), 1)
            if cfg.tolerance_change and change <= cfg.tolerance_change:
                self.converged = True
                return

    def _run_adam(self) -> None:
        x = self.x0.clone().requires_grad_(True)
        self.adam_x = x
        opt = torch.optim.Adam([x], lr=self.config.lr if self.config.lr is not None else 1e-2)
        while self.iterations < self.config.iterations:
            point = self.evaluate(x.detach().clone())
            x.grad = point.grad
            opt.step()
            self._record(point.terms, x)

    def result(self, seconds: float) -> OptimResult:
        if self.adam_x is not None and not self.interrupted:
            try:  # the last Adam step's move has not been scored yet
                self.evaluate(self.adam_x.detach().clone())
            except KeyboardInterrupt:
                self.interrupted = True
        best = self.evaluate.best
        if best is None:  # zero iterations, or interrupted before the first evaluation
            with torch.no_grad():
                terms = _as_terms(self.evaluate.loss_fn(self.x0)).floats()
            best = _Point(self.x0, terms["total"], self.x0, terms)
        return OptimResult(variable=best.x.clone(), loss=best.loss, terms=best.terms,
                           history=self.history, iterations=self.iterations,
                           evaluations=self.evaluate.count, interrupted=self.interrupted,
                           converged=self.converged, restarts=self.restarts, seconds=seconds)


def optimize(
    variable: Tensor,
    loss_fn: LossFn,
    config: OptimConfig | None = None,
    *,
    callback: Optional[Callback] = None,
    callback_every: int = 0,
    quiet: bool = False,
    desc: str = "optimising",
) -> OptimResult:
    """Minimise ``loss_fn(x)`` over a tensor ``x`` starting from ``variable``.

    Args:
        variable: Starting point, any shape (e.g. ``(1, F, T)`` spectrogram, ``(1, 3, H, W)``
            image). It is copied; the caller's tensor is never modified.
        loss_fn: Maps the current variable (same shape, ``requires_grad``) to a
            :class:`~shared.LossTerms` or a scalar tensor.
        config: Optimiser and budget (:class:`OptimConfig`; default L-BFGS, 300 iterations).
        callback: Called as ``callback(iteration, x, loss)`` every ``callback_every``
            iterations (with a detached copy of the current variable), e.g. to save
            intermediate results.
        callback_every: Period of the callback in iterations (0 = never).
        quiet: Silence the progress bar.
        desc: Label of the progress bar.

    Returns:
        :class:`OptimResult` with the best variable seen.

    Raises:
        NonFiniteLossError: if the loss becomes NaN or infinite (carries the best so far).
            L-BFGS first resets its memory and retries along the gradient from the current
            point; only a second failure in a row raises.

    Ctrl-C (KeyboardInterrupt), also inside a line search, stops the loop cleanly: the best
    result so far is returned with ``interrupted=True``. Under :func:`deferred_interrupts`
    the loop stops at the end of the iteration the Ctrl-C landed in (or before the first
    iteration when it landed before the call).

    The loop leaves the process's allocator alone: a pipeline that evaluates large buffers
    over and over calls :func:`shared.retain_freed_memory` before, and
    :func:`shared.release_freed_memory` between its stages.
    """
    config = config or OptimConfig()
    _check_inputs(variable, callback_every)
    run = _Run(variable, loss_fn, config, callback, callback_every, quiet, desc)
    start = time.perf_counter()
    run.run()
    return run.result(time.perf_counter() - start)
