"""The H2O-style GAN form (``generator_architecture={...}``, ``discriminator_architecture={...}``) against
the plain parameters it overlaps with.

The dicts' ``input_dim`` is the latent width, their ``hidden_dim(s)`` the MLP widths and their presence
means the ``mlp`` family. A plain parameter set to something else than its default and disagreeing with
the dict is an error: genforge does not guess which of two contradicting values was meant.
"""

from __future__ import annotations

from typing import Any

from genforge.errors import ParameterError
from genforge.estimators.params import ParamSet


def check_h2o_form(params: dict[str, Any], declared: ParamSet) -> None:
    """Raise ParameterError when a dict of the H2O form contradicts ``latent_dim``, ``architecture`` or
    ``width`` given beside it (a parameter left at its default never contradicts)."""
    g_spec = params.get("generator_architecture")
    d_spec = params.get("discriminator_architecture")
    if g_spec is None and d_spec is None:
        return

    def changed(name: str) -> bool:
        return name in declared and params.get(name) != declared[name].default

    if g_spec is not None and "input_dim" in g_spec and changed("latent_dim") and params["latent_dim"] != g_spec["input_dim"]:
        raise ParameterError(
            f"generator_architecture['input_dim'] is {g_spec['input_dim']} but latent_dim is {params['latent_dim']}; "
            "both set the width of the noise vector: pass one of them (or the same value)."
        )
    if changed("architecture") and params["architecture"] != "mlp":
        which = "generator_architecture" if g_spec is not None else "discriminator_architecture"
        raise ParameterError(
            f"{which} describes an MLP (the H2O form) but architecture is {params['architecture']!r}; drop "
            "architecture, or drop the architecture dicts to use that family."
        )
    for name, spec in (("generator_architecture", g_spec), ("discriminator_architecture", d_spec)):
        if spec is not None and ("hidden_dim" in spec or "hidden_dims" in spec) and changed("width"):
            raise ParameterError(
                f"{name} gives the hidden widths, so width={params['width']} would have no effect on that network; "
                "drop width or the dict's hidden_dim."
            )
        if spec is not None and "hidden_dim" in spec and "hidden_dims" in spec:
            raise ParameterError(f"{name} has both 'hidden_dim' and 'hidden_dims'; pass one of them.")
