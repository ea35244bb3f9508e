"use strict";
document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  try {
    await api("POST", "/api/login", {
      email: document.getElementById("email").value,
      password: document.getElementById("password").value,
    });
    location.href = nextPage();
  } catch (err) {
    showError(err.status === 429 ? "Too many attempts. Try again later." : err.message);
  }
});

// Where to go after logging in: `?next=` when it is a page on this host (the marketer console
// on another port sends people here), else the agent console. Never another host.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  if (!next) return "/";
  try {
    const url = new URL(next, location.href);
    const ok = (url.protocol === "http:" || url.protocol === "https:") && url.hostname === location.hostname;
    return ok ? url.href : "/";
  } catch (e) { return "/"; }
}
