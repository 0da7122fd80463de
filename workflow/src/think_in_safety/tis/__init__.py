"""TiS assembly: the safety-thought dataset of the paper, built in inspectable stages.

docs/study.md ("The TiS dataset") describes the released pipeline: collect safety-related topics ->
caption the images -> add a long chain of thought to question answering -> filter. One module
per stage, one Snakemake rule per stage (``workflow/rules/tis.smk``):

* :mod:`policy`   the written policy (regulations, Allowed / Disallowed / Safe-Completion, categories)
* :mod:`sources`  source items (image, question, reference answer, safe/unsafe, category, decision)
* :mod:`captions` one caption per image (OpenAI-compatible, local transformers, or precomputed)
* :mod:`writers`  a ``<think>`` thought per item (OpenAI-compatible, local transformers, or the
  offline :mod:`template_writer`, which is not a language model)
* :mod:`filters`  format, decision agreement, context leaks, length bounds, near-duplicates
* :mod:`dataset`  LLaMA-Factory sharegpt JSON + dataset_info.json + images, and a dataset card
"""
