"""Hardware adapters, chosen per device and swapped for mocks by one setting.

``adapter_for(device)`` is the only way code gets an adapter: with
``LABCORE_MOCK_HARDWARE`` on, every device gets the mock; otherwise the class named in
``LABCORE_ADAPTERS`` for the device's ``adapter`` field.
"""

from django.conf import settings
from django.utils.module_loading import import_string

from devices.adapters.base import Adapter, AdapterError, DispatchContext, DispatchResult, DispatchStatus


def adapter_class(name: str) -> type[Adapter]:
    try:
        return import_string(settings.LABCORE_ADAPTERS[name])
    except KeyError:
        raise AdapterError(f"no adapter named {name!r} in LABCORE_ADAPTERS") from None


def adapter_for(device) -> Adapter:
    name = "mock" if settings.LABCORE_MOCK_HARDWARE else device.adapter
    return adapter_class(name)(device)


__all__ = [
    "Adapter",
    "AdapterError",
    "DispatchContext",
    "DispatchResult",
    "DispatchStatus",
    "adapter_class",
    "adapter_for",
]
