"""Comparing the gradients that several methods compute for the same parameters.

Introduced in lesson 02; lesson 06 leans on it. :func:`compare_gradients` takes, for each method, a
mapping of parameter names to gradients, and returns a :class:`GradientComparison`: its text is a small
table of max |Δ| against a reference method, rounded so that the table is the same on every machine and
device; :meth:`GradientComparison.plot` draws each method's gradient values against the reference's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

__all__ = ["GradientComparison", "collect_grads", "compare_gradients"]


def collect_grads(named_params: Mapping[str, torch.Tensor] | torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copy the ``.grad`` of each named parameter (a module, or a name -> tensor mapping).

    Raises:
        TypeError: ``named_params`` is not a module or a mapping of names to tensors (pass
            ``model`` or ``dict(model.named_parameters())``, not the generator or a list).
        ValueError: there are no parameters, or a parameter has no ``.grad`` (it does not require
            grad, no backward reached it, or it was zeroed to None).
    """
    if isinstance(named_params, torch.nn.Module):
        items = list(named_params.named_parameters())
        if not items:
            raise ValueError(f"named_params: the module {type(named_params).__name__} has no parameters")
    elif isinstance(named_params, Mapping):
        items = list(named_params.items())
        if not items:
            raise ValueError("named_params is empty: there are no parameters to collect gradients of")
    else:
        raise TypeError("named_params must be a module or a mapping of names to tensors, such as "
                        f"dict(model.named_parameters()); got {type(named_params).__name__}")
    grads = {}
    for name, p in items:
        if not isinstance(name, str):
            raise TypeError(f"named_params: parameter names must be strings, got {name!r}")
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"named_params[{name!r}] is a {type(p).__name__}, not a tensor")
        if p.grad is None:
            why = "it does not require grad" if not p.requires_grad else "no backward pass reached it"
            raise ValueError(f"{name!r} has no .grad: {why}")
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

        Points on the diagonal mean the same gradient; each panel lists every method's max |Δ|.
        Complex gradients are drawn as their real and imaginary parts. The values drawn are rounded to
        ``decimals``, as the table prints them: PyTorch's CPU kernels (AVX2 or not) round the last bits
        differently, which moved a few pixels of the unrounded picture from one machine to another. The
        figure is 900 pixels wide (two panels a row, one legend for all), so that its text stays legible
        at notebook width.
        Returns a :class:`~helpers.show.FigurePicture`: a PNG in Jupyter, a one-line description as
        text; ``.figure`` is the matplotlib figure.
        """
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1:
            raise ValueError(f"max_points must be a positive int, got {max_points!r}")
        from matplotlib.figure import Figure

        from helpers.show import FigurePicture

        def entries(t: torch.Tensor) -> torch.Tensor:  # rounded as the table prints them
            t = torch.view_as_real(t) if t.is_complex() else t
            return torch.round(t, decimals=self.decimals).flatten()[:max_points]

        n = len(self.params)
        cols = min(2, n)
        rows = math.ceil(n / cols)
        fig = Figure(figsize=(4.5 * cols, 0.5 + 3.4 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).flatten()
        markers = "os^Dvx*+"
        digits = min(self.decimals, 3)
        for ax, p in zip(axes, self.params):
            ref = entries(self._values[self.reference][p])
            lo, hi = float(ref.min()), float(ref.max())
            for i, m in enumerate(self.methods):
                val = entries(self._values[m][p])
                lo, hi = min(lo, float(val.min())), max(hi, float(val.max()))
                ax.scatter(ref.numpy(), val.numpy(), s=24, marker=markers[i % len(markers)], alpha=0.7,
                           label=m)
            pad = 0.05 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="gray", lw=0.8, ls="--")
            ax.set_title(p, fontsize=11)
            ax.set_xlabel(f"{self.reference} gradient", fontsize=10)
            ax.set_ylabel("other method's gradient", fontsize=10)
            ax.tick_params(labelsize=9)
            deltas = "\n".join(f"{m}: {round(self.max_abs_diff[m][p], self.decimals):.{digits}g}"
                                for m in self.methods)
            ax.text(0.98, 0.03, "max |Δ|\n" + deltas, transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=9, bbox=dict(boxstyle="round", facecolor="white", alpha=0.8, edgecolor="0.8"))
        for ax in axes[n:]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 4), fontsize=10)
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

    Gradients are compared on the CPU in float64; complex gradients in complex128, by the modulus
    of the difference.

    Raises:
        TypeError: ``results`` or one of its values is not a mapping, a method or parameter name is
            not a string, a gradient is not a tensor, or ``decimals``/``rtol``/``atol`` is not a number.
        ValueError: fewer than two methods, a method without gradients, an unknown ``reference``,
            parameter sets that differ (the message names the missing and the extra ones), shapes
            that differ, or a negative ``decimals``/``rtol``/``atol``.
    """
    if not isinstance(results, Mapping):
        raise TypeError(f"results must map method names to {{param: grad}} mappings, got {type(results).__name__}")
    if len(results) < 2:
        raise ValueError(f"compare_gradients needs at least two methods, got {len(results)}")
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, got {type(decimals).__name__}")
    for arg, value in (("decimals", decimals), ("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{arg} must be a number, got {type(value).__name__}")
        if not value >= 0:
            raise ValueError(f"{arg} must be >= 0, got {value}")
    names = list(results)
    for method in names:
        if not isinstance(method, str):
            raise TypeError(f"results: method names must be strings, got {method!r}")
    reference = names[0] if reference is None else reference
    if reference not in results:
        raise ValueError(f"reference {reference!r} is not one of the methods {names}")
    values: dict[str, dict[str, torch.Tensor]] = {}
    for method, grads in results.items():
        if not isinstance(grads, Mapping):
            raise TypeError(f"results[{method!r}] must map parameter names to gradients, got {type(grads).__name__}")
        if not grads:
            raise ValueError(f"results[{method!r}] is empty: no gradients to compare")
        values[method] = {}
        for p, g in grads.items():
            if not isinstance(p, str):
                raise TypeError(f"results[{method!r}]: parameter names must be strings, got {p!r}")
            if not isinstance(g, torch.Tensor):
                raise TypeError(f"results[{method!r}][{p!r}] is {type(g).__name__}, not a tensor")
            values[method][p] = g.detach().to("cpu", torch.complex128 if g.is_complex() else torch.float64)
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
