"""The chat loop: the current thread, slash commands, and a session that survives bad turns."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from app.attachments import store_attachment_file
from app.chat_view import ChatView
from app.settings import Settings
from app.user_input import validate_user_text
from state.errors import InputError, MedGraphError
from state.schema import Attachment
from tools.policy.actions import ACTION_NAMES, check_action

if TYPE_CHECKING:
    from app.runtime import Runtime

HELP_TEXT = """\
Commands:
  /new           start a new thread
  /thread ID     switch to thread ID and show its history
  /threads       list recent threads
  /retry         retry the last turn if it did not finish (e.g. the model endpoint failed)
  /image PATH [question]
                 attach a chest X-ray (PNG, JPEG or DICOM) and ask about it; without a
                 question, radiology drafts a report (quote a PATH that has spaces)
  /action NAME   request a gated action: finalize_radiology_report, share_with_patient,
                 export_thread or erase_learner_data (plain requests work too, e.g.
                 "export this thread")
  /approve [note]   approve the action this thread is waiting for (as your role)
  /reject [reason]  reject it: nothing is done
  /help          show this help
  /quit          leave (Ctrl-D works too)
Anything else is sent to MedGraph."""
IMAGE_REQUEST = "Draft a report for this chest X-ray."


def split_image_argument(arg: str) -> tuple[Path, str]:
    """`/image PATH [question]` into the path and the question; PATH may be quoted."""
    if not arg:
        raise InputError("usage: /image PATH [question]")
    if arg[0] in "\"'":
        end = arg.find(arg[0], 1)
        if end < 0:
            raise InputError(f"unclosed quote in {arg!r}")
        return Path(arg[1:end]), arg[end + 1 :].strip()
    if Path(arg).expanduser().is_file():
        return Path(arg), ""
    path, _, question = arg.partition(" ")
    return Path(path), question.strip()


def new_thread_id() -> str:
    """A fresh, short thread id."""
    return uuid.uuid4().hex[:12]


class ChatSession:
    """The chat loop's state: the current thread and the slash commands."""

    def __init__(
        self,
        runtime: Runtime,
        view: ChatView,
        settings: Settings,
        thread_id: str,
        *,
        resume: bool = False,
    ) -> None:
        self.runtime = runtime
        self.view = view
        self.settings = settings
        self.thread_id = thread_id
        self.view.intro(self.thread_id)
        if resume:
            self._show_thread()

    def loop(self, read: Callable[[], str]) -> None:
        """Read, dispatch and answer until /quit or end of input."""
        while True:
            try:
                line = read()
            except (EOFError, KeyboardInterrupt):
                self.view.goodbye()
                return
            if not self.handle(line):
                return

    def handle(self, line: str) -> bool:
        """Handle one input line; False means leave."""
        stripped = line.strip()
        try:
            if stripped.startswith("/"):
                return self._command(stripped)
            self._send(validate_user_text(line, self.settings.max_message_chars))
        except MedGraphError as exc:
            self.view.error(exc, retry_hint=self.runtime.pending_retry(self.thread_id))
        except Exception as exc:
            if self.settings.debug:
                self.view.console.print_exception()
            self.view.unexpected(exc)
        return True

    def _command(self, line: str) -> bool:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            self.view.goodbye()
            return False
        if name == "/help":
            self.view.note(HELP_TEXT)
        elif name == "/new":
            self.thread_id = new_thread_id()
            self.view.note(f"New thread {self.thread_id}")
        elif name == "/thread":
            if not arg:
                raise InputError("usage: /thread ID (see /threads)")
            self.thread_id = arg
            self._show_thread()
        elif name == "/threads":
            self.view.threads(self.runtime.threads(), self.thread_id)
        elif name == "/action":
            if not arg:
                raise InputError(f"usage: /action NAME, one of {', '.join(ACTION_NAMES)}")
            self._send(f"Request action: {check_action(arg)}")
        elif name in ("/approve", "/reject"):
            decision: Literal["approve", "reject"] = "approve" if name == "/approve" else "reject"
            self.view.turn(self.runtime.decide(self.thread_id, decision, arg))
        elif name == "/image":
            path, question = split_image_argument(arg)
            attachment = store_attachment_file(path, "image", self.settings.data_dir)
            text = validate_user_text(question or IMAGE_REQUEST, self.settings.max_message_chars)
            self.view.note(f"Attached {attachment.name} ({attachment.size_bytes:,} bytes).")
            self._send(text, [attachment])
        elif name == "/retry":
            if not self.runtime.pending_retry(self.thread_id):
                raise InputError("nothing to retry: the last turn of this thread finished")
            self.view.turn(self.runtime.turn(self.thread_id, None))
        else:
            raise InputError(f"unknown command {name}; type /help for the list")
        return True

    def _send(self, text: str, attachments: Sequence[Attachment] = ()) -> None:
        """Run a turn, unless the thread is waiting for an approval (a new turn would drop it)."""
        waiting = self.runtime.pending(self.thread_id)
        if waiting:
            ids = ", ".join(p.request.request_id for p in waiting)
            raise InputError(
                f"this thread is waiting for approval of {ids}: /approve [note] or "
                "/reject [reason] first, or /new for another thread"
            )
        self.view.turn(self.runtime.turn(self.thread_id, text, attachments))

    def _show_thread(self) -> None:
        messages = self.runtime.history(self.thread_id)
        self.view.history(self.thread_id, messages)
        for pending in self.runtime.pending(self.thread_id):
            self.view.approval(pending)
        if self.runtime.pending_retry(self.thread_id):
            self.view.note("The last turn of this thread did not finish; /retry resumes it.")


def _new_thread_id() -> str:
    return uuid.uuid4().hex[:12]
