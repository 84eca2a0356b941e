"""Model aliases, stages and ``models:/`` URIs (names and version numbers are checked by
:mod:`nbmlops.store.names`, below the registry, so the prediction log can check them too)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidModel
from ..store.models import STAGES
from ..store.names import MAX_VERSION, model_name, version_number

_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?")
RESERVED_ALIASES = ("latest",)

__all__ = [
    "MAX_VERSION",
    "RESERVED_ALIASES",
    "ModelRef",
    "alias_name",
    "model_name",
    "parse_ref",
    "stage_name",
    "version_number",
]


def alias_name(alias: object) -> str:
    """A free-form alias: lower-case letters, digits, '_' and '-', not a stage or 'latest'."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidModel(
            f"invalid alias {alias!r}: use lower-case letters, digits, '_' or '-', starting "
            "with a letter (e.g. 'champion')"
        )
    if alias in STAGES or alias in RESERVED_ALIASES:
        raise InvalidModel(
            f"{alias!r} is a stage, not a free alias: use nbmlops.promote(name, version, "
            f"to={alias!r})"
            if alias in STAGES
            else f"{alias!r} is reserved (models:/NAME@latest is always the newest version)"
        )
    return alias


def stage_name(stage: object) -> str:
    if stage not in STAGES:
        raise InvalidModel(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    return str(stage)


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a name plus a version number or a selector (stage, alias, latest)."""

    name: str
    version: int | None = None
    selector: str | None = None

    @property
    def uri(self) -> str:
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}@{self.selector or 'latest'}"


def parse_ref(ref: object, version: object = None) -> ModelRef:
    """Read ``models:/name/3``, ``models:/name@production``, ``name@alias`` or a bare name.

    A bare name (no version given) means its production version.

    >>> parse_ref("models:/churn@production")
    ModelRef(name='churn', version=None, selector='production')
    >>> parse_ref("churn", 2)
    ModelRef(name='churn', version=2, selector=None)
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidModel(
            f"a model reference is a string such as 'models:/churn@production', "
            f"'models:/churn/3' or 'churn', got {ref!r}"
        )
    text = ref.strip()
    if text.startswith("models:"):
        match = _URI.fullmatch(text)
        if match is None:
            raise InvalidModel(
                f"cannot read model URI {ref!r}: write models:/NAME/VERSION or "
                "models:/NAME@ALIAS (e.g. models:/churn@production)"
            )
        name, ver, alias = match["name"], match["version"], match["alias"]
    else:
        name, _, alias = text.partition("@")
        ver = None
        alias = alias or None
    name = model_name(name)
    if version is not None:
        if ver is not None or alias is not None:
            raise InvalidModel(f"{ref!r} already names a version; do not pass version= too")
        return ModelRef(name, version_number(version))
    if ver is not None:
        if ver == "latest":
            return ModelRef(name, selector="latest")
        return ModelRef(name, version_number(ver))
    if alias is not None:
        if alias not in STAGES and alias not in RESERVED_ALIASES:
            alias_name(alias)
        return ModelRef(name, selector=alias)
    return ModelRef(name, selector="production")
