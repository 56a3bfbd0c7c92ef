"""Form validation shared by every domain: pydantic checks the values, and each error becomes a kind,
translated message keyed by field name, so templates can show it next to the field that caused it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

from litestar import Request
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from server.i18n import gettext as _
from server.localtime import valid_timezone
from server.web.edge import CONTROL, MAX_ID

ModelT = TypeVar("ModelT", bound=BaseModel)
# An id a form may name (a patient, a program): a row id both databases can hold; anything else is "not one of
# the choices", never an overflow in the driver.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _known_zone(value: str) -> str:
    if not valid_timezone(value):
        raise ValueError(_("Please pick a time zone from the list."))
    return value


# A time zone a form may name: one of the IANA zones (the one type every form's `timezone` field uses).
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


# The `opt` of a GET route whose answer renders no form (a script, the manifest, static files, the offline queue's
# JSON): Litestar's CSRF middleware leaves it alone, so it never sets a new CSRF cookie. A request without the cookie
# (a browser whose cookies were cleared) that reached such a route after the sign-in page was sent would otherwise
# replace that page's token with another, and the sign-in would be refused as an expired form.
NO_FORM = {"exclude_from_csrf": True}


@dataclass
class FormResult(Generic[ModelT]):
    data: ModelT | None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.errors

    @property
    def rejected(self) -> dict[str, Any]:
        """What a 422 re-render needs: the values as typed and the errors (`form_page(..., **result.rejected)`)."""
        return {"values": self.values, "errors": self.errors}


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("Please fill this in.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("Please choose %(n)s or more.") % {"n": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return _("Please choose %(n)s or less.") % {"n": ctx.get("le", ctx.get("lt"))}
    if kind == "int_parsing" or kind == "int_from_float":
        return _("Please enter a whole number.")
    if kind == "float_parsing":
        return _("Please enter a number.")
    if kind == "string_too_long":
        return _("Please keep this to %(n)s characters or fewer.") % {"n": ctx.get("max_length")}
    if kind == "string_too_short":
        return _("Please fill this in.")
    if kind.startswith("date") or kind.startswith("datetime") or kind.startswith("time"):
        return _("Please enter a date and time we can read, like 2026-11-23 or 20:00.")
    if kind in ("literal_error", "enum"):
        return _("Please pick one of the choices.")
    if kind == "bool_parsing":
        return _("Please pick yes or no.")
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "")))
    return _("Please check this value.")


def validate(
    model: type[ModelT],
    raw: dict[str, Any],
    *,
    field_message: Callable[[str, str], str | None] | None = None,
    hidden_fields: Collection[str] = (),
) -> FormResult[ModelT]:
    """Validate raw form values. Blank optional fields count as absent.

    `field_message(field, error_type)` may give kinder words for particular fields; errors on
    `hidden_fields` (which nobody can see) are shown above the form instead.
    """
    refused = _control_characters(raw)
    if refused:
        # NUL and other control characters: PostgreSQL can't store a NUL, and none belongs in anything a person
        # types. Say so on the field; what was typed comes back without the invisible characters.
        message = _("Please remove the unusual invisible characters from this.")
        errors = {("__all__" if name in hidden_fields else name): message for name in refused}
        return FormResult(data=None, errors=errors, values=_without_control(raw))
    cleaned = {k: v for k, v in raw.items() if not (isinstance(v, str) and v.strip() == "")}
    try:
        return FormResult(data=model.model_validate(cleaned), values=raw)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "__all__"
            if name in hidden_fields:
                name = "__all__"
            special = field_message(name, error["type"]) if field_message else None
            errors.setdefault(name, special or _message(dict(error)))
        return FormResult(data=None, errors=errors, values=raw)


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def _control_characters(raw: dict[str, Any]) -> list[str]:
    return [name for name, value in raw.items() if any(CONTROL.search(text) for text in _texts(value))]


def _without_control(raw: dict[str, Any]) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return CONTROL.sub("", value)
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {name: clean(value) for name, value in raw.items()}


async def form_values(request: Request, list_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a urlencoded or multipart body; `list_fields` keep every value (checkbox groups, chips)."""
    form = await request.form()
    values: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        values[key] = form.getall(key) if key in list_fields else form.get(key)
    for key in list_fields:
        values.setdefault(key, [])
    return values


async def read_form(
    request: Request, model: type[ModelT], *, list_fields: tuple[str, ...] = (), **options: Any
) -> FormResult[ModelT]:
    """The posted form, read and validated in one step (`validate`'s `options` pass through)."""
    return validate(model, await form_values(request, list_fields=list_fields), **options)
