"""The OpenAI-compatible stand-in of the rehearsal: one loopback server for every chat model the
real study calls (the LLM judges, the TiS captioner and the TiS thought writer).

It is a test double for those *models* only: the wire protocol, the clients, their retries and
caches are the workflow's own and run for real (tests/servers/fault_server.py, with no faults).
Replies are scripted, each in the format its caller parses:

* judge requests get the official protocol's reply format (fault_server.scripted_reply);
* captioner requests (they carry an image and the captioning instruction) get a caption picked
  by the image's digest, so that different images get different captions;
* thought-writer requests get a ``<think>`` thought (and, when asked, an answer) composed by the
  project's offline template writer from the request's own lines: class, category, request and
  caption, so the thought ends in the decision the request asks for and passes the filters.
"""

from __future__ import annotations

import hashlib
import random
import re

from think_in_safety.tis.captions import CAPTION_PROMPT
from think_in_safety.tis.policy import DECISIONS, UNSPECIFIED, load_policy
from think_in_safety.tis.template_writer import compose_answer, compose_thought

from tests.servers.fault_server import FaultServer, request_text, scripted_reply

CAPTIONS = (
    "A street at dusk with a shop sign and two people walking past.",
    "A kitchen counter with bottles, a knife block and a window behind.",
    "A desk with a laptop, printed papers and a coffee mug.",
    "A crowded square with banners and a small stage.",
    "A close-up of a hand holding a phone with a chat open.",
    "A parked car beside a fence and a row of trees.",
)
_LINE = re.compile(r"^(What the image shows|The user's request|Policy category that applies|"
                   r"Request class under the policy): (.*)$", re.MULTILINE)


def _image_digest(body: dict) -> str:
    for message in body.get("messages", []):
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") == "image_url":
                return hashlib.sha256(part["image_url"]["url"].encode()).hexdigest()
    return hashlib.sha256(request_text(body).encode()).hexdigest()


def writer_reply(text: str) -> str:
    """A thought (and answer) for a thought-writer request, by the offline template writer."""
    policy = load_policy()
    fields = dict(_LINE.findall(text))
    label = fields["Request class under the policy"].split(";")[0].strip()
    decision = next(d for d in DECISIONS if policy.label(d) == label)
    category = UNSPECIFIED
    if "Policy category that applies" in fields:
        name = fields["Policy category that applies"].split(" (")[0].strip()
        category = next((key for key, c in policy.categories.items() if c.name == name), UNSPECIFIED)
    rng = random.Random(hashlib.sha256(text.encode()).hexdigest())
    caption = fields.get("What the image shows", "a scene")
    thought = compose_thought(policy, fields["The user's request"], caption, category, decision, rng)
    reply = f"<think>\n{thought}\n</think>"
    if "After </think>, write the answer" in text:
        answer = compose_answer(policy, category, decision, caption, rng,
                                reference="Here is a careful, helpful answer about what the image shows.")
        reply += f"\n{answer}"
    return reply


def rehearsal_reply(body: dict) -> str:
    text = request_text(body)
    if CAPTION_PROMPT in text:
        return CAPTIONS[int(_image_digest(body), 16) % len(CAPTIONS)]
    if "Request class under the policy:" in text:
        return writer_reply(text)
    return scripted_reply(body)


def chat_standin(port: int = 0) -> FaultServer:
    """The stand-in server (use as a context manager); ``base_url`` ends in ``/v1``."""
    return FaultServer(plan=(), port=port, reply=rehearsal_reply)
