"""The escalate agent: a fixed, safe reply with crisis guidance, marked for human follow-up."""

from __future__ import annotations

from agents.registry import AgentTask
from state.schema import AgentAnswer, Intent

ESCALATION_REPLY = (
    "I'm concerned about what you've written, and this needs a person, not an AI assistant.\n"
    "- If you or someone else is in immediate danger, call your local emergency number now "
    "(911 in the US, 112 in the EU, 999 in the UK).\n"
    "- If you are thinking about harming yourself, you can call or text 988 (US Suicide & "
    "Crisis Lifeline), or contact a local crisis line or your nearest emergency department.\n"
    "- If a patient or colleague is at risk, follow your organisation's escalation procedure "
    "and contact the responsible clinician straight away.\n"
    "I have flagged this conversation for human follow-up."
)


class EscalateAgent:
    """Never calls a model: the reply is fixed and the answer is flagged for a human."""

    name: Intent = "escalate"

    def run(self, task: AgentTask) -> AgentAnswer:
        """Return the fixed crisis reply, flagged `needs_human`."""
        return AgentAnswer(
            order=task.order, agent=self.name, text=ESCALATION_REPLY, needs_human=True
        )
