"""The one optimisation loop shared by every optimisation-based method.

Audio style transfer (Ulyanov & Lebedev 2016: L-BFGS on the spectrogram), image style transfer
and texture synthesis (Gatys et al. 2015/2016: L-BFGS or Adam on the pixels) all call
:func:`optimize`; no method carries its own loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional

import torch
from torch import Tensor

from .objective import LossTerms

OptimizerName = Literal["lbfgs", "adam"]
LossFn = Callable[[Tensor], "LossTerms | Tensor"]
Callback = Callable[[int, Tensor, float], None]


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
    history_size: int = 100  # L-BFGS: number of curvature pairs kept
    line_search: Optional[Literal["strong_wolfe"]] = None  # L-BFGS line search (None = fixed step)
    tolerance_grad: float = 0.0  # L-BFGS: stop when max |grad| falls to this (0 = never)
    tolerance_change: float = 0.0  # L-BFGS: stop when steps change less than this (0 = never)

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
        converged: True when L-BFGS stopped moving before its budget (tolerances reached).
        restarts: L-BFGS restarts from the best point after a non-finite line-search trial.
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


def _postfix(terms: dict[str, float]) -> dict[str, str]:
    return {("loss" if k == "total" else k): f"{v:.4g}" for k, v in terms.items()}


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
            L-BFGS first restarts from the best point with its history cleared; only a second
            failure in a row raises.

    Ctrl-C (KeyboardInterrupt) stops the loop cleanly: the result so far is returned with
    ``interrupted=True``.
    """
    from tqdm.auto import tqdm

    config = config or OptimConfig()
    if not isinstance(variable, Tensor):
        raise TypeError(f"variable must be a torch.Tensor, got {type(variable).__name__}")
    if not variable.is_floating_point():
        raise TypeError(f"variable must be a floating-point tensor, got {variable.dtype}")
    if callback_every < 0:
        raise ValueError(f"callback_every must be >= 0, got {callback_every}")

    x = variable.detach().clone().requires_grad_(True)
    if config.optimizer == "lbfgs":
        opt: torch.optim.Optimizer = torch.optim.LBFGS(
            [x],
            lr=config.lr if config.lr is not None else 1.0,
            max_iter=1,  # one iteration per step(), so that steps can be counted and logged
            max_eval=1 + 25,  # the start point plus up to 25 line-search evaluations per step
            history_size=config.history_size,
            line_search_fn=config.line_search,
            tolerance_grad=config.tolerance_grad,
            tolerance_change=config.tolerance_change,
        )
    else:
        opt = torch.optim.Adam([x], lr=config.lr if config.lr is not None else 1e-2)

    state: dict = {"evals": 0, "version": -1, "terms": None, "best": math.inf, "best_x": None,
                   "best_terms": None, "x_eval": None, "loss": None}
    step_terms: list[Optional[dict[str, float]]] = [None]

    def closure() -> Tensor:
        # L-BFGS calls the closure at the start of every step(), usually at the very point
        # its last line-search evaluation scored (the same x_init + t*d, bit for bit); the
        # loss and the gradient left in x.grad are reused then instead of paid for twice.
        if state["terms"] is not None and x.grad is not None and (
            state["version"] == x._version or torch.equal(x.detach(), state["x_eval"])
        ):
            if step_terms[0] is None:
                step_terms[0] = state["terms"]
            return state["loss"]
        opt.zero_grad(set_to_none=True)
        with torch.enable_grad():
            result = _as_terms(loss_fn(x))
            loss = result.total
            if not torch.isfinite(loss):
                raise NonFiniteLossError(
                    f"the loss became {float(loss.detach())} after {state['evals']} evaluations; "
                    "lower the learning rate or the loss weights",
                    best=state["best_x"],
                )
            loss.backward()
        if x.grad is not None and not torch.isfinite(x.grad).all():
            raise NonFiniteLossError(
                f"the gradient became non-finite after {state['evals']} evaluations; "
                "lower the learning rate or the loss weights",
                best=state["best_x"],
            )
        state["evals"] += 1
        floats = result.floats()
        value = floats["total"]
        # One copy of the evaluated point serves both the reuse check and, when it is the best
        # so far, the result (no third copy: long audio makes these tensors large).
        x_eval = x.detach().clone()
        state.update(version=x._version, terms=floats, loss=loss.detach(), x_eval=x_eval)
        if step_terms[0] is None:
            step_terms[0] = floats
        if value < state["best"]:
            state["best"] = value
            state["best_x"] = x_eval
            state["best_terms"] = floats
        return loss.detach()

    history: list[dict[str, float]] = []
    iterations = 0
    interrupted = False
    converged = False
    restarts = 0
    last_restart: Optional[int] = None
    start = time.perf_counter()
    bar = tqdm(total=config.iterations, desc=desc, disable=quiet, unit="it", leave=False,
               dynamic_ncols=True)
    try:
        while iterations < config.iterations:
            step_terms[0] = None
            before, evals_before = x._version, state["evals"]
            if config.optimizer == "lbfgs":
                try:
                    opt.step(closure)
                    last_restart = None
                except NonFiniteLossError:
                    # A line search that overshoots into overflow (float32 curvature
                    # estimates of a badly scaled loss) is not the end: go back to the best
                    # point, forget the curvature history and take a fresh, short first step.
                    # Only a failure right after such a restart is final.
                    if state["best_x"] is None or last_restart == iterations:
                        raise
                    last_restart = iterations
                    restarts += 1
                    with torch.no_grad():
                        x.copy_(state["best_x"])
                    opt.state.clear()
                    state["terms"] = None  # the cached evaluation belongs to a failed point
                    continue
            else:
                closure()
                opt.step()
            iterations += 1
            terms = step_terms[0] or state["terms"]
            history.append(terms)
            bar.update(1)
            bar.set_postfix(_postfix(terms), refresh=False)
            if callback is not None and callback_every and iterations % callback_every == 0:
                callback(iterations, x.detach().clone(), terms["total"])
            if config.optimizer == "lbfgs" and (
                x._version == before
                or (state["evals"] == evals_before and torch.equal(x.detach(), state["x_eval"]))
            ):
                # L-BFGS left x where it was without scoring any new point: its tolerances
                # were met, and every further step would do the same.
                converged = True
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()

    if not interrupted:
        # Evaluate the final iterate too (the last step's move has not been scored yet).
        try:
            closure()
        except KeyboardInterrupt:
            interrupted = True
    seconds = time.perf_counter() - start
    if state["best_x"] is None:  # zero iterations, interrupted before the first evaluation
        with torch.no_grad():
            terms = _as_terms(loss_fn(x.detach())).floats()
        return OptimResult(variable=x.detach().clone(), loss=terms["total"], terms=terms,
                           history=history, iterations=iterations,
                           evaluations=state["evals"], interrupted=interrupted,
                           converged=converged, restarts=restarts, seconds=seconds)
    return OptimResult(
        variable=state["best_x"],
        loss=state["best"],
        terms=state["best_terms"],
        history=history,
        iterations=iterations,
        evaluations=state["evals"],
        interrupted=interrupted,
        converged=converged,
        restarts=restarts,
        seconds=seconds,
    )
