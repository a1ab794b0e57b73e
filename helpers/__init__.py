"""Helpers for the Autograd Workshop lessons.

One job per module, each introduced by a lesson:

* :mod:`helpers.device` (lesson 01): pick CPU or CUDA, seed every generator.
* :mod:`helpers.graphs` (lesson 01): draw an autograd graph; its text form states the graph.
* :mod:`helpers.gradflow` (lesson 01): the gradient that flowed along each edge in a backward pass.
* :mod:`helpers.exercises` (lesson 01): check exercise answers, with hints.
* :mod:`helpers.show` (lesson 01): print tensors rounded and device-free, errors and warnings as stable
  text, a helper's code.
* :mod:`helpers.nodes` (lessons 01, 03): a tensor's autograd attributes, a node's inputs, the nodes of a
  graph, node runs.
* :mod:`helpers.compare` (lesson 02): compare gradients from several methods, as a table and a plot.
* :mod:`helpers.measure` (lesson 03): saved-for-backward bytes, fair timings.
* :mod:`helpers.gan` (lesson 03): a tiny GAN, and whether a step changed every parameter.
* :mod:`helpers.compute_once` (lesson 06): the four ways to backpropagate through ``f(x, y)`` twice.
* :mod:`helpers.dann` (lesson 07): domain-adversarial training on two moons, one pass versus two.
* :mod:`helpers.distributed` (lesson 08): run a function on N processes from Jupyter, results by rank.
* :mod:`helpers.at_scale` (lessons 08, 09): the methods under DDP, FSDP2, checkpointing, mixed precision,
  torch.compile, torch.func.
* :mod:`helpers.node_hooks` (lesson 10): a trace of the order in which backward hooks run; two alias-hook methods.
* :mod:`helpers.cases` (notebook 11, the catalogue): five methods, a small problem, the summary table.
* :mod:`helpers.diagnose` (lesson 12): why a tensor gets no gradient, read from the graph without changing it.
* :mod:`helpers.project` : where the project lives (its URL, badges, the Colab bootstrap cell).
"""

from helpers.compare import collect_grads, compare_gradients
from helpers.device import pick_device, seed_everything
from helpers.exercises import check
from helpers.gradflow import gradient_flow
from helpers.graphs import draw_graph
from helpers.measure import format_bytes, saved_tensor_bytes, time_call, time_methods
from helpers.show import expect_error, fmt, show_source

__all__ = [
    "check",
    "collect_grads",
    "compare_gradients",
    "draw_graph",
    "expect_error",
    "fmt",
    "format_bytes",
    "gradient_flow",
    "pick_device",
    "saved_tensor_bytes",
    "seed_everything",
    "show_source",
    "time_call",
    "time_methods",
]
