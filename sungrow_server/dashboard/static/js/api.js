// The server's API as the page uses it: the token kept in this browser, and JSON or
// CSV fetched with it. The token never goes into a URL.
const TOKEN_KEY = "sungrow.token";
const CHOICE_KEY = "sungrow.choice";

export class HttpError extends Error {
  constructor(status, detail, retryAfter) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export const store = {
  token: () => localStorage.getItem(TOKEN_KEY),
  setToken: (token) => localStorage.setItem(TOKEN_KEY, token),
  choice: () => localStorage.getItem(CHOICE_KEY),
  setChoice: (choice) => localStorage.setItem(CHOICE_KEY, choice),
  forget() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(CHOICE_KEY);
  },
};

// A share link is https://host/#token=...: the fragment never reaches the server. Take
// the token into storage and drop it from the address bar and the history entry.
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token === null) return false;
  if (token.trim()) store.setToken(token.trim());
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}

async function request(path, accept) {
  const response = await fetch(path, {
    headers: { Authorization: `Bearer ${store.token()}`, Accept: accept },
    cache: "no-store",
  });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new HttpError(response.status, detail, response.headers.get("Retry-After"));
  }
  return response;
}

export async function getJson(path) {
  return (await request(path, "application/json")).json();
}

// Download `path` (a format=csv URL) as a file, with the name the server gives it.
export async function download(path) {
  const response = await request(path, "text/csv");
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || "series.csv";
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// /v1/series or /v1/realtime arguments for the chosen device or site.
export function target(choice) {
  return choice.kind === "site" ? { site_id: choice.id } : { device_id: choice.id };
}

export function url(path, params) {
  return `${path}?${new URLSearchParams(params)}`;
}
