"""Column contracts of the tables that flow between stages.

Each stage validates what it writes with :func:`check_columns`, so a change of shape fails
loudly at the stage that made it, not three rules later.
"""

from __future__ import annotations

import pandas as pd

# results/prompts/{benchmark}.parquet — one row per (prompt, image) the benchmark sends.
PROMPT_COLUMNS = {
    "id": "unique id within the benchmark, stable across runs (e.g. 'figstep/1_1')",
    "benchmark": "registry name of the benchmark (figstep, mm_safetybench, jailbreakv, siuo, mssbench)",
    "subset": "the benchmark's own split of prompts: image type, chat/embodied, format, ...",
    "category": "the benchmark's own harm category / scenario / policy",
    "image_paths": "list of image files sent with the prompt (paths relative to the workflow root); "
    "empty for text-only",
    "system_prompt": "system message the benchmark prescribes ('' when none)",
    "prompt": "exact user text the benchmark sends with the image(s)",
    "n_samples": "responses to sample for this prompt (SIUO: 3, others: 1)",
    "question": "the underlying request in plain words (what the judge is asked about)",
    "safety_warning": "why the request is unsafe in context (SIUO) or ''",
    "reference_answer": "the benchmark's reference response or ''",
    "image_context": "'safe' or 'unsafe' for benchmarks that pair images (MSSBench), else ''",
    "judge_rubric": "which of the benchmark's judge prompts applies "
    "(e.g. MM-SafetyBench 'general', 'political_lobbying', 'legal_opinion', ...)",
    "text_source": "where the prompt's wrapper text comes from (official_texts.TEXT_SOURCES): 'official@<commit>' "
    "(the benchmark's released code at that commit), 'paraphrase' (the project's wording), 'release' (the prompt is "
    "the release's own text), 'embedded' (a fixed sentence in the project's code)",
}

# results/responses/{model}/{benchmark}.parquet — one row per sampled response.
RESPONSE_COLUMNS = {
    "id": "prompt id (see PROMPT_COLUMNS)",
    "sample": "0-based sample index (0..n_samples-1)",
    "model": "registry name of the model that answered",
    "raw": "the decoded generation, special tokens removed",
    "thought": "the thought part, split by the model's thought format ('' when none)",
    "answer": "the answer part shown to the user",
    "has_thought": "whether a thought was found",
    "prompt_tokens": "tokens in the model input (text + image tokens)",
    "thought_tokens": "tokens of the thought (the model's tokenizer; "
    "backend openai: whitespace-separated words, an approximation)",
    "answer_tokens": "tokens of the answer (the model's tokenizer; "
    "backend openai: whitespace-separated words, an approximation)",
    "generated_tokens": "tokens generated in total",
    "finished": "whether generation ended with EOS (False: hit max_new_tokens)",
    "decoding": "JSON of the decoding settings used",
    "seconds": "wall time of the batch divided by its size",
    "prompting": "JSON {system, user}: the system message and user text sent with the images, after the model's "
    "system_prompt and prompt_template (models.<m>); '{}' where not recorded (human-labelled rows)",
}

# results/judgments/{judge}/{model}/{benchmark}.parquet — one row per judged response.
JUDGMENT_COLUMNS = {
    "id": "prompt id",
    "sample": "sample index",
    "model": "model that answered",
    "judge": "judge identity: registry name, backend model and prompt version",
    "label": "benchmark-specific label (e.g. 'safe'/'unsafe', MSSBench class '0'..'3'); '' when unparsed/error",
    "unsafe": "1.0 unsafe, 0.0 safe, NaN when the judge could not decide (excluded from metrics)",
    "rationale": "why the judge decided so (matched refusal string, judge text, ...)",
    "status": "'ok', 'unparsed' or 'error'",
    "text_source": "which judge text was sent (official_texts.TEXT_SOURCES): 'official@<commit>' (the benchmark's "
    "released code at that commit), 'paraphrase' (the project's wording), "
    "'none' (keyword rules, Llama Guard's template)",
}


def check_columns(frame: pd.DataFrame, contract: dict[str, str], what: str) -> pd.DataFrame:
    """Raise a ValueError naming the missing columns of ``what``; return the frame in contract order."""
    missing = [column for column in contract if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing columns {missing}; expected {list(contract)}")
    extra = [column for column in frame.columns if column not in contract]
    return frame[list(contract) + extra]
