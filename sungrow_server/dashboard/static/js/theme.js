// Chart colours from the stylesheet's variables, so light and dark follow the system.
export function colors() {
  const style = getComputedStyle(document.documentElement);
  const names = ["text", "muted", "line", "pv", "load", "battery", "grid", "import", "export", "charge", "discharge"];
  return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(`--${name}`).trim()]));
}

export function onSchemeChange(callback) {
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", callback);
}

// The energies of a bucket, in the order the bars stack them: what came in, what went out.
export const ENERGIES = [
  { key: "pv_energy_kwh", label: "Solar", color: "pv", side: "in" },
  { key: "import_energy_kwh", label: "Grid import", color: "import", side: "in" },
  { key: "battery_discharge_kwh", label: "Battery discharge", color: "discharge", side: "in" },
  { key: "load_energy_kwh", label: "House", color: "load", side: "out" },
  { key: "export_energy_kwh", label: "Grid export", color: "export", side: "out" },
  { key: "battery_charge_kwh", label: "Battery charge", color: "charge", side: "out" },
];
