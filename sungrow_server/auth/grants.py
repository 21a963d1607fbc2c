"""What a token lets its bearer do: its role and the devices and sites in its scope."""

from collections.abc import Mapping
from dataclasses import dataclass

DEVICE = "device"  # writes and reads its one device (DEVICE_TOKENS, `token create --device`)
READ_ONLY = "read-only"  # reads the devices and sites of its scope, writes nothing
ROLES = (DEVICE, READ_ONLY)


@dataclass(frozen=True)
class Grant:
    """A token's role and scope; `token_id` is its row in sungrow_tokens (None: DEVICE_TOKENS)."""

    role: str
    devices: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    all_devices: bool = False
    token_id: int | None = None

    @classmethod
    def for_device(cls, device_id: str, token_id: int | None = None) -> "Grant":
        """The grant of a device token."""
        return cls(DEVICE, frozenset({device_id}), token_id=token_id)

    @property
    def device_id(self) -> str | None:
        """The device a device token writes; None for a read-only token."""
        return next(iter(self.devices)) if self.role == DEVICE else None

    def reads_site(self, site_id: str) -> bool:
        """Whether the site is in the scope (whether or not it exists)."""
        return self.role == READ_ONLY and (self.all_devices or site_id in self.sites)

    def reads_device(self, device_id: str, sites: Mapping[str, tuple[str, ...]]) -> bool:
        """Whether the device is in the scope: named, a member of a site named, or all.

        `sites` maps each site to its members, as the token store last read them.
        """
        if self.all_devices or device_id in self.devices:
            return True
        return self.role == READ_ONLY and any(
            device_id in sites.get(site_id, ()) for site_id in self.sites
        )

    def scope_text(self) -> str:
        """The scope in words, for `token list`."""
        if self.all_devices:
            return "all"
        parts = [f"device {d}" for d in sorted(self.devices)]
        return ", ".join(parts + [f"site {s}" for s in sorted(self.sites)])
