"""Generation engine: one interface over vLLM, an OpenAI-compatible server, or transformers."""

from emopillars.llm.types import GenerationRequest, GenerationResult, SamplingParams

__all__ = ["GenerationRequest", "GenerationResult", "SamplingParams"]
