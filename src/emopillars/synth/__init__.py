"""Synthesis of the Emo Pillars datasets: narratives -> characters -> utterances -> labels -> contexts -> curation.

Each generation step is a pair of pure halves (``format_input`` builds a
:class:`~emopillars.llm.types.GenerationRequest` from a row, ``format_output``
turns the engine's result into records or rejects with a reason), so every
step is testable without a model; :func:`emopillars.synth.steps.run_step`
joins them to the generation engine.
"""
