"""Comparing the gradients that several methods compute for the same parameters.

Introduced in lesson 02; lesson 06 leans on it. :func:`compare_gradients` takes, for each method, a
mapping of parameter names to gradients, and returns a :class:`GradientComparison`: its text is a small
table of max |Δ| against a reference method, rounded so that the table is the same on every machine and
device; :meth:`GradientComparison.plot` draws each method's gradient values against the reference's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

__all__ = ["GradientComparison", "collect_grads", "compare_gradients"]


def collect_grads(named_params: Mapping[str, torch.Tensor] | torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copy the ``.grad`` of each named parameter (a module, or a name -> tensor mapping).

    Raises:
        ValueError: a parameter has no ``.grad`` (no backward reached it, or it was zeroed to None).
    """
    items = named_params.named_parameters() if isinstance(named_params, torch.nn.Module) else named_params.items()
    grads = {}
    for name, p in items:
        if p.grad is None:
            raise ValueError(f"{name!r} has no .grad: no backward pass reached it")
        grads[name] = p.grad.detach().clone()
    return grads


@dataclass
class GradientComparison:
    """max |Δ| of each method's gradients against a reference method, per parameter.

    Attributes:
        reference: the name of the reference method.
        methods: the other methods, in the order given.
        params: the parameter names, in the order of the reference's mapping.
        max_abs_diff: ``max_abs_diff[method][param]``, a float.
        close: ``close[method]`` is True when every parameter is within ``atol + rtol * max|ref|``.
    """

    reference: str
    methods: list[str]
    params: list[str]
    max_abs_diff: dict[str, dict[str, float]]
    close: dict[str, bool]
    decimals: int
    _values: dict[str, dict[str, torch.Tensor]]

    def table(self) -> str:
        """The comparison as a fixed-width text table."""
        fmt = f"{{:.{self.decimals}f}}"
        head = ["parameter"] + self.methods
        rows = [[p] + [fmt.format(self.max_abs_diff[m][p]) for m in self.methods] for p in self.params]
        rows.append(["all close?"] + [str(self.close[m]) for m in self.methods])
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        lines = [f"max |Δ| against {self.reference!r} (rounded to {self.decimals} decimals)"]
        for r in [head] + rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.table()

    def plot(self, max_points: int = 2000):
        """One panel per parameter: each method's gradient entries (y) against the reference's (x).

        Points on the diagonal mean the same gradient. Returns a :class:`~helpers.show.FigurePicture`:
        a PNG in Jupyter, a one-line description as text; ``.figure`` is the matplotlib figure.
        """
        from matplotlib.figure import Figure

        from helpers.show import FigurePicture

        n = len(self.params)
        fig = Figure(figsize=(3.2 * n, 3.2), layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
        markers = "os^Dvx*+"
        for ax, p in zip(axes, self.params):
            ref = self._values[self.reference][p].flatten()[:max_points]
            lo, hi = float(ref.min()), float(ref.max())
            for i, m in enumerate(self.methods):
                val = self._values[m][p].flatten()[:max_points]
                lo, hi = min(lo, float(val.min())), max(hi, float(val.max()))
                ax.scatter(ref.numpy(), val.numpy(), s=18, marker=markers[i % len(markers)], alpha=0.7,
                           label=f"{m} (max |Δ| {self.max_abs_diff[m][p]:.{min(self.decimals, 3)}g})")
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="gray", lw=0.8, ls="--")
            ax.set_title(p, fontsize=10)
            ax.set_xlabel(f"{self.reference} gradient", fontsize=8)
            ax.set_ylabel("other method's gradient", fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
        return FigurePicture(fig, f"plot: gradients of {', '.join(self.methods)} against {self.reference!r}, "
                                  f"one panel per parameter ({', '.join(self.params)})")


def _max_abs(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def compare_gradients(
    results: Mapping[str, Mapping[str, torch.Tensor]],
    reference: str | None = None,
    *,
    decimals: int = 6,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> GradientComparison:
    """Compare gradients of the same parameters computed by several methods.

    Args:
        results: method name -> (parameter name -> gradient tensor). Every method must give the same
            parameter names with the same shapes.
        reference: the method the others are compared with; the first one if not given.
        decimals: max |Δ| is rounded to this many decimals in the table, so that rounding noise of
            different devices or library versions does not change the printed table.
        rtol, atol: the tolerance behind the "all close?" row.

    Raises:
        TypeError: ``results`` or one of its values is not a mapping, or a gradient is not a tensor.
        ValueError: fewer than two methods, an unknown ``reference``, parameter sets that differ
            (the message names the missing and the extra ones), or shapes that differ.
    """
    if not isinstance(results, Mapping):
        raise TypeError(f"results must map method names to {{param: grad}} mappings, got {type(results).__name__}")
    if len(results) < 2:
        raise ValueError(f"compare_gradients needs at least two methods, got {len(results)}")
    names = list(results)
    reference = names[0] if reference is None else reference
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of the methods {names}")
    values: dict[str, dict[str, torch.Tensor]] = {}
    for method, grads in results.items():
        if not isinstance(grads, Mapping):
            raise TypeError(f"results[{method!r}] must map parameter names to gradients, got {type(grads).__name__}")
        values[method] = {}
        for p, g in grads.items():
            if not isinstance(g, torch.Tensor):
                raise TypeError(f"results[{method!r}][{p!r}] is {type(g).__name__}, not a tensor")
            values[method][p] = g.detach().to("cpu", torch.float64)
    params = list(values[reference])
    for method in names:
        missing = [p for p in params if p not in values[method]]
        extra = [p for p in values[method] if p not in values[reference]]
        if missing or extra:
            raise ValueError(
                f"method {method!r} has other parameters than {reference!r}: "
                f"missing {missing}, extra {extra}"
            )
        for p in params:
            if values[method][p].shape != values[reference][p].shape:
                raise ValueError(
                    f"gradient of {p!r}: shape {tuple(values[method][p].shape)} in {method!r} but "
                    f"{tuple(values[reference][p].shape)} in {reference!r}"
                )
    others = [m for m in names if m != reference]
    diffs = {m: {p: _max_abs(values[m][p] - values[reference][p]) for p in params} for m in others}
    close = {m: all(diffs[m][p] <= atol + rtol * _max_abs(values[reference][p]) for p in params)
             for m in others}
    return GradientComparison(reference, others, params, diffs, close, decimals, values)
