"""Build every guard of a process from setting values: one set, one metrics registry.

Usage (in the composition root):
    guards = build_guard_set(embedder, GuardConfig(profile="prod", cache_dir=settings.cache_dir,
                                                   max_chars=20_000), embedder_id="minilm-int8")
    IntentClassifier.from_default(guards.embeddings)           # the router shares the memo
    ModelAccess(..., guard=guards.call_guard)                   # every chat-model call
    GraphGuards(guards.input, guards.output, route_limits)      # the graph's guard nodes
    guards.chunks.screen(chunks, text_of=...)                   # documents agent, tool outputs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.guards.chunk_screen import ChunkScreener
from tools.guards.injection_classifier import InjectionClassifier
from tools.guards.injection_patterns import InjectionPatterns
from tools.guards.input_guards import InputGuards
from tools.guards.metrics import GuardMetrics
from tools.guards.output_guards import OutputGuards
from tools.guards.phi import PhiRedactor
from tools.guards.policy import GuardPolicy, ProfileName, all_off, profile
from tools.guards.shared_embeddings import Embedder, SharedEmbeddings
from tools.guards.wrapper import DecisionObserver, ModelCallGuard
from tools.routing.safety_lexicon import SafetyLexicon


@dataclass(frozen=True)
class GuardConfig:
    """The setting values the guards need (`MEDGRAPH_GUARD_*`)."""

    profile: ProfileName
    cache_dir: Path
    max_chars: int
    injection_threshold: float | None = None
    disabled: tuple[str, ...] = ()
    route_off: tuple[tuple[str, str], ...] = ()
    dataset: Path | None = None
    enabled: bool = True


@dataclass(frozen=True)
class GuardSet:
    """The guards of one process, sharing one redactor, one embedding memo and one metrics."""

    policies: dict[str, GuardPolicy]
    metrics: GuardMetrics
    call_guard: ModelCallGuard
    embeddings: SharedEmbeddings
    input: InputGuards
    output: OutputGuards
    chunks: ChunkScreener
    classifier: InjectionClassifier
    redactor: PhiRedactor = field(repr=False)


def build_guard_set(
    embedder: Embedder,
    config: GuardConfig,
    *,
    embedder_id: str,
    observer: DecisionObserver | None = None,
) -> GuardSet:
    """Policies from the profile, the injection classifier (cached fit), and every guard.

    `config.enabled=False` keeps the same objects with every graph guard off (benchmarks only);
    the model-call wrapper keeps its PHI screen regardless.
    """
    policies = profile(config.profile, disabled=config.disabled, route_off=config.route_off)
    graph_policies = policies if config.enabled else all_off(policies)
    metrics = GuardMetrics()
    redactor = PhiRedactor()
    call_guard = ModelCallGuard(redactor, policies=policies, metrics=metrics, observer=observer)
    embeddings = SharedEmbeddings(embedder, call_guard)
    classifier = InjectionClassifier.load(
        embeddings,
        cache_dir=config.cache_dir,
        embedder_id=embedder_id,
        threshold=config.injection_threshold,
        dataset=config.dataset,
    )
    input_guards = InputGuards(
        redactor,
        SafetyLexicon(),
        InjectionPatterns(),
        classifier,
        embeddings,
        policies=graph_policies,
        max_chars=config.max_chars,
        metrics=metrics,
        call_guard=call_guard,
    )
    output_guards = OutputGuards(redactor, policies=graph_policies, metrics=metrics)
    chunks = ChunkScreener(
        InjectionPatterns(), classifier, embeddings, policy=policies["injection"], metrics=metrics
    )
    return GuardSet(
        graph_policies,
        metrics,
        call_guard,
        embeddings,
        input_guards,
        output_guards,
        chunks,
        classifier,
        redactor,
    )
