"""Seed data: a few hundred issues and pull requests across four repositories, then one
``embeddings/compute.requested`` event so that the pipeline embeds them all.

    python -m examples.embeddings.seed --app http://127.0.0.1:3000 --inlet http://127.0.0.1:8288

Stdlib only, so any Python runs it. The items are made from hand-written parts, the same
on every run (a seeded random choice); ``ANCHORS`` are whole hand-written reports on
topics no other item shares, which the tests query by paraphrase.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import urllib.error
import urllib.request
from typing import Any

REPOS = ("acme/web", "acme/api", "acme/mobile", "acme/infra")
BRIDGE_EVENTS = (
    "embedding/issue.generate",
    "embedding/pr.generate",
    "embedding/batch.process",
    "similarity/repository.recalculate",
)
"""The product's own events that the bridge functions turn into compute requests."""

ANCHORS: list[dict[str, Any]] = [
    {
        "repo": "acme/web",
        "kind": "issue",
        "title": "Password reset email never arrives for addresses with a plus sign",
        "body": "Users whose address contains '+' (jane+work@example.com) request a reset "
        "link and nothing reaches their inbox. The mailer log shows the address cut at the "
        "plus sign.",
        "paraphrase": "people with + in their e-mail address don't get the reset password message",
    },
    {
        "repo": "acme/api",
        "kind": "issue",
        "title": "Invoice PDF shows amounts in dollars for euro customers",
        "body": "Customers billed in EUR download an invoice whose totals carry a $ sign and "
        "are formatted with US separators, although the charge itself was in euros.",
        "paraphrase": "european clients see the wrong currency symbol on their billing documents",
    },
    {
        "repo": "acme/mobile",
        "kind": "issue",
        "title": "App drains the battery while idle in the background on Android 14",
        "body": "After the last release the app keeps a wake lock when it is backgrounded; "
        "phones lose 20% charge overnight with the app doing nothing.",
        "paraphrase": "phone battery goes flat overnight because the application keeps "
        "running when not in use",
    },
    {
        "repo": "acme/infra",
        "kind": "pr",
        "title": "Rotate the TLS certificates of the load balancer automatically",
        "body": "Adds a nightly job that renews the certificates 30 days before they expire "
        "and reloads the balancer without dropping connections. Fixes last month's outage "
        "caused by an expired certificate.",
        "paraphrase": "automatic renewal of expiring https certificates on the balancer",
    },
    {
        "repo": "acme/web",
        "kind": "pr",
        "title": "Dark mode for the settings and billing pages",
        "body": "The settings and billing pages ignored the dark theme and flashed white. "
        "This moves their colours to the theme variables.",
        "paraphrase": "the account preferences screens stay bright white when the night "
        "theme is on",
    },
    {
        "repo": "acme/api",
        "kind": "issue",
        "title": "Rate limiter counts requests from all tenants behind one NAT as one client",
        "body": "Companies whose staff share an office IP hit 429 Too Many Requests within "
        "minutes, because the limiter keys on the source address instead of the API token.",
        "paraphrase": "too many requests errors for a whole office sharing a single public ip",
    },
]

COMPONENTS = [
    "checkout page",
    "search bar",
    "user profile",
    "notification centre",
    "file uploader",
    "CSV export",
    "audit log",
    "team invitations",
    "webhook delivery",
    "OAuth login",
    "SAML single sign-on",
    "billing dashboard",
    "onboarding wizard",
    "comment editor",
    "image thumbnails",
    "calendar sync",
    "push notifications",
    "offline mode",
    "GraphQL gateway",
    "background job queue",
    "database migrations",
    "Redis cache",
    "Kubernetes deployment",
    "CI pipeline",
    "Terraform modules",
    "metrics exporter",
    "feature flags",
    "localisation files",
    "access tokens",
    "activity feed",
]
PROBLEMS = [
    ("crashes with a null pointer when the list is empty", "Handle the empty list"),
    ("is very slow with more than ten thousand records", "Paginate the query"),
    ("shows stale data until the page is reloaded", "Invalidate the cache on write"),
    ("times out after 30 seconds under load", "Raise the pool size and add a timeout"),
    ("loses unsaved changes when the network drops", "Keep a local draft"),
    ("renders badly on small screens", "Make the layout responsive"),
    ("ignores the user's time zone", "Convert times to the user's zone"),
    ("fails silently and logs nothing", "Report the error to the user and the logs"),
    ("sends duplicate requests on double click", "Disable the button while sending"),
    ("leaks memory over a long session", "Release listeners on unmount"),
    ("breaks with non-ASCII characters", "Encode text as UTF-8 throughout"),
    ("returns 500 when a field is missing", "Validate the payload and answer 422"),
]
CONTEXTS = [
    "Seen on Firefox 128 on Windows.",
    "Reported by three customers this week.",
    "Happens since the 4.2 release.",
    "Only in the EU region.",
    "Reproducible on staging.",
    "Our on-call was paged twice for it.",
    "Started after the dependency upgrade.",
    "Affects admins only.",
    "Safari on iOS 17.",
    "Logs attached from production.",
]


def items(count: int = 300) -> list[dict[str, Any]]:
    """``count`` items: the anchors, then generated reports, each (repo, kind, number)
    and each text unique."""
    rng = random.Random(15)
    pairs = [(c, p) for c in COMPONENTS for p in PROBLEMS]
    rng.shuffle(pairs)
    numbers = dict.fromkeys(REPOS, 0)
    made: list[dict[str, Any]] = []

    def add(repo: str, kind: str, title: str, body: str) -> None:
        numbers[repo] += 1
        made.append(
            {"repo": repo, "kind": kind, "number": numbers[repo], "title": title, "body": body}
        )

    for anchor in ANCHORS:
        add(anchor["repo"], anchor["kind"], anchor["title"], anchor["body"])
    for component, (problem, fix) in pairs[: count - len(ANCHORS)]:
        repo = rng.choice(REPOS)
        context = rng.choice(CONTEXTS)
        if rng.random() < 0.35:
            title = f"{fix} in the {component}"
            body = f"The {component} {problem}. {fix}, with a test. {context}"
            add(repo, "pr", title, body)
        else:
            title = f"The {component} {problem}"
            body = f"Steps: open the {component} and use it as usual. It {problem}. {context}"
            add(repo, "issue", title, body)
    return made


def _post(url: str, body: Any) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.URLError as exc:
        sys.exit(f"seed: POST {url} failed ({exc}); is that server running at that address?")


def seed(app_url: str, inlet_url: str, event_key: str, count: int) -> dict[str, Any]:
    added = _post(f"{app_url}/api/items", items(count))
    sent = _post(
        f"{inlet_url}/e/{event_key}",
        {"name": "embeddings/compute.requested", "data": {"reason": "seed"}},
    )
    return {"added": added["added"], "event_ids": sent["ids"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default="http://127.0.0.1:3000", help="the example app")
    parser.add_argument("--inlet", default="http://127.0.0.1:8288", help="inlet's URL")
    parser.add_argument("--event-key", default="dev", help="inlet start's event key")
    parser.add_argument("--count", type=int, default=300, help="items to create")
    args = parser.parse_args(argv)
    done = seed(args.app.rstrip("/"), args.inlet.rstrip("/"), args.event_key, args.count)
    print(f"seeded {done['added']} new items; compute event {done['event_ids'][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
