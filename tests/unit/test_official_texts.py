"""Official texts by reference: each benchmark's prompt wrappers and judge prompts read from its
released code (never executed, never copied), carried by the prompt table to the judge, and named
on every prompt and judgment row.

No official sentence appears here: every test writes its own stand-in files in the upstream
layout (the upstream file names, variable names and structure, with sentences of our own) and
checks that what the workflow builds equals, character for character, what the stand-in holds.
Downloads go to tests/servers/data_host.py, a loopback HTTP server on 127.0.0.1 standing in for
raw GitHub and the Hugging Face hub, reached only through the ``mirrors`` rewrite.
"""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from think_in_safety import download, official_texts
from think_in_safety.benchmarks import get_benchmark
from think_in_safety.comparison import COMPARISON_COLUMNS
from think_in_safety.judges import make_judge
from think_in_safety.judges.llm import Completion, PreparedCall, ProtocolJudge
from think_in_safety.judges.protocols import Reply, make_protocol
from think_in_safety.official_texts import OfficialTextError
from think_in_safety.report import ReportInputs, render_report
from think_in_safety.tables import JUDGMENT_COLUMNS, PROMPT_COLUMNS

from ..conftest import REPO
from ..judge_rows import prompt_row, response_row, tables
from ..servers import official_standins
from ..servers.data_host import DataHost, populate, url_path

# ------------------------------------------------------------------------------------------------
# our own stand-in files, in the upstream layout
# ------------------------------------------------------------------------------------------------
# Values the tests expect, spelled out once; the files below hold them as Python literals.
CHAT_IF = "Our chat wrapper {kept} with \"quotes\", ü and braces {Recep}. Query follows: "
EMBODIED_IF = "Our robot wrapper:\n1. Goto {Recep}\n2. Drop {Object}\n\nTask follows: "
JUDGE_TEMPLATE = "{prompt1}\n\n[R]\n{response}\n\n[/R]\n\n{prompt2}\n\nEnd with <answer>index</answer>.\n"
CHAT_PROMPT1 = "Our chat judge, first part.\n\n"
EMBODIED_PROMPT1 = "Our robot judge, first part.\n\n"
PROMPT2 = "Our classes:\n{rubric}\n"
CHAT_CLASSES = {"0": "chat refuses", "1": "chat flags the risk", "2": "chat ignores it", "3": "chat cannot tell"}
EMBODIED_CLASSES = {"0": "robot refuses", "1": "robot flags it", "2": "robot plans on", "3": "robot lacks sight"}
SAFE_TEMPLATE = ("Our safety judge {not a field}.\nQ={question}\nW={explanation}\nREF={reference}\n"
                 "RESP={response}\nEnd with [Safety Judgement:] True/False.")
EFFECTIVE_TEMPLATE = "Our effectiveness judge.\nQ={question}\nRESP={response}\nSay {\"Very Effective\" or not}."
MMSB = {name: f"Our {name} judge, ü.\nAnswer: {{prediction}}\nYour output: "
        for name in official_texts.MMSB_TEMPLATES.values()}

MSSBENCH_FILES = {
    "utils/prompts.py": f'''
        import this_module_does_not_exist  # the file is read, never run
        raise SystemExit("an official file must never be executed")

        PROMPT_EMBODIED_IF = {EMBODIED_IF!r}

        PROMPT_CHAT_IF = """{CHAT_IF}"""

        PROMPT_QA_AGENT_YES = """an agent prompt we do not read""" + query
        ''',
    "utils/gpt4_eval.py": f'''
        from openai import AzureOpenAI
        client = AzureOpenAI(api_key="")

        prompt_embodied = {{
            "sys_prompt": "our unused system line",
            "prompt_template": {JUDGE_TEMPLATE!r},
            "prompt1": {EMBODIED_PROMPT1!r},
            "prompt2": {PROMPT2!r},
        }}
        annotation_aspects_embodied = {{"do_not_answer": {EMBODIED_CLASSES!r}}}

        prompt_chat = {{
            "sys_prompt": "our unused system line",
            "prompt_template_v0": "an older template we do not read {{question}}",
            "prompt_template": {JUDGE_TEMPLATE!r},
            "prompt1": {CHAT_PROMPT1!r},
            "prompt2": {PROMPT2!r},
        }}
        annotation_aspects_chat = {{"do_not_answer": {CHAT_CLASSES!r}}}
        ''',
    "utils/infer_on_data.py": '''
        from utils.prompts import *

        def test_each_mss(data, model):
            for d in data["chat"]:
                for query in d["queries"]:
                    model(d["safe_image_path"], PROMPT_CHAT_IF + query)
            for d in data["embodied"]:
                for safe_instr in d["safe_instructions"]:
                    model(d["safe"], PROMPT_EMBODIED_IF + safe_instr)
        ''',
}
SIUO_FILES = {"eval/gpt-eval.py": f'''
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", type=str, default="safe")
    args = parser.parse_args()

    def process_data(data, start_idx, end_idx):
        if args.mode == 'safe':
            prompt_template = {SAFE_TEMPLATE!r}
        if args.mode == 'effective':
            prompt_template = {EFFECTIVE_TEMPLATE!r}
        for item in data:
            print(prompt_template.replace("{{question}}", item["question"]))
    '''}
MMSB_FILES = {"evaluation.py": "import json\n\n" + "\n".join(
    f"{name} = (\n    {value[:12]!r}\n    {value[12:]!r}\n)\n" for name, value in MMSB.items())}


def write_files(root: Path, files: dict[str, str]) -> Path:
    for relative, body in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body), encoding="utf-8")
    return root


def texts_of(benchmark: str, root: Path) -> official_texts.OfficialTexts:
    return official_texts.load(benchmark, root / "release", {"official_texts": {"source": str(root / "code")}})


@pytest.fixture
def mss(tmp_path) -> official_texts.OfficialTexts:
    write_files(tmp_path / "code", MSSBENCH_FILES)
    return texts_of("mssbench", tmp_path)


# ------------------------------------------------------------------------------------------------
# parsing, without executing
# ------------------------------------------------------------------------------------------------
def test_mssbench_files_are_read_as_written_and_never_run(mss, tmp_path):
    values = mss.values
    assert values["prompts"] == {"chat": CHAT_IF, "embodied": EMBODIED_IF}
    assert values["judge"]["chat"] == {"prompt_template": JUDGE_TEMPLATE, "prompt1": CHAT_PROMPT1,
                                       "prompt2": PROMPT2, "rubric": CHAT_CLASSES}
    assert values["judge"]["embodied"]["prompt1"] == EMBODIED_PROMPT1
    assert list(values["judge"]["embodied"]["rubric"]) == ["0", "1", "2", "3"]  # upstream's order
    assert mss.text_source == "official@local copy"
    assert set(mss.files) == set(MSSBENCH_FILES)
    assert mss.files["utils/prompts.py"] == download.sha256_file(tmp_path / "code/utils/prompts.py")


def test_siuo_templates_are_read_from_their_mode_blocks(tmp_path):
    write_files(tmp_path / "code", SIUO_FILES)
    texts = texts_of("siuo", tmp_path)
    assert texts.values == {"safety": SAFE_TEMPLATE, "effectiveness": EFFECTIVE_TEMPLATE}


def test_mm_safetybench_templates_are_joined_string_literals(tmp_path):
    write_files(tmp_path / "code", MMSB_FILES)
    templates = texts_of("mm_safetybench", tmp_path).values["templates"]
    assert templates == {rubric: MMSB[name] for rubric, name in official_texts.MMSB_TEMPLATES.items()}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda files: files.pop("utils/infer_on_data.py"), "PROMPT_CHAT_IF \\+ <query>"),
    (lambda files: files.update({"utils/prompts.py": "PROMPT_CHAT_IF = 'x'\nPROMPT_EMBODIED_IF = 'y' + z\n"}),
     "'PROMPT_EMBODIED_IF' is not a str literal"),
    (lambda files: files.update({"utils/gpt4_eval.py": "prompt_chat = {}\n"}),
     "no module-level variable 'annotation_aspects_chat'"),
    (lambda files: files.update({"utils/prompts.py": "<!doctype html><p>rate limited</p>"}), "is not Python source"),
])
def test_a_file_that_does_not_hold_the_texts_stops_with_the_file_and_the_fix(tmp_path, edit, message):
    files = dict(MSSBENCH_FILES)
    edit(files)
    write_files(tmp_path / "code", files)
    options = {"official_texts": {"source": str(tmp_path / "code"), "files": sorted(files)}}
    with pytest.raises(OfficialTextError, match=message) as error:
        official_texts.load("mssbench", tmp_path / "release", options)
    assert str(tmp_path / "code") in str(error.value)


def test_a_template_with_other_fields_is_refused(tmp_path):
    files = dict(MSSBENCH_FILES)
    files["utils/gpt4_eval.py"] = files["utils/gpt4_eval.py"].replace("[/R]", "[/R] {question}", 1)
    write_files(tmp_path / "code", files)
    with pytest.raises(OfficialTextError, match=r"unexpected \['question'\]"):
        texts_of("mssbench", tmp_path)


def test_asking_and_not_getting_them_fails_never_falls_back(tmp_path):
    spec = get_benchmark("mssbench")
    spec.write_demo(tmp_path / "release", seed=0)
    options = {"official_texts": {"source": "https://raw.githubusercontent.com/eric-ai-lab/MSSBench/" + "a" * 40}}
    with pytest.raises(OfficialTextError) as error:
        spec.load_prompts(tmp_path / "release", options)
    message = str(error.value)
    assert str(tmp_path / "release/official_texts/utils/prompts.py") in message
    assert "download_benchmark" in message and "remove official_texts" in message
    with pytest.raises(OfficialTextError, match="FigStep has no official LLM judge"):
        get_benchmark("figstep").load_prompts(tmp_path, {"official_texts": {"source": "https://example.org"}})
    with pytest.raises(OfficialTextError, match="unknown keys"):
        official_texts.texts_config("siuo", {"official_texts": {"source": "x", "file": ["a"]}})


# ------------------------------------------------------------------------------------------------
# prompts: the official wrapper + the query, and the row says so
# ------------------------------------------------------------------------------------------------
def test_mssbench_prompts_are_the_official_wrapper_plus_the_query(tmp_path):
    write_files(tmp_path / "code", MSSBENCH_FILES)
    spec = get_benchmark("mssbench")
    spec.write_demo(tmp_path / "release", seed=0)
    table = spec.load_prompts(tmp_path / "release", {"official_texts": {"source": str(tmp_path / "code")}})
    for row in table.to_dict("records"):
        wrapper = CHAT_IF if row["subset"] == "chat" else EMBODIED_IF
        assert row["prompt"] == wrapper + row["question"]
    assert set(table["text_source"]) == {"official@local copy"}
    assert table.attrs["official_texts"]["values"]["prompts"]["chat"] == CHAT_IF

    paraphrased = spec.load_prompts(tmp_path / "release", {})
    assert set(paraphrased["text_source"]) == {"paraphrase"} and "official_texts" not in paraphrased.attrs
    assert "Goto {Recep}" in paraphrased["prompt"].iloc[-1]  # the four upstream actions, in our words


def test_every_prompt_row_names_its_text(tmp_path):
    sources = {"figstep": {"embedded"}, "mm_safetybench": {"release"}, "jailbreakv": {"release"},
               "siuo": {"release"}, "mssbench": {"paraphrase"}}
    for name, expected in sources.items():
        spec = get_benchmark(name)
        spec.write_demo(tmp_path / name, seed=0)
        table = spec.load_prompts(tmp_path / name, {"include_text_only": name == "figstep"})
        assert list(table.columns[: len(PROMPT_COLUMNS)]) == list(PROMPT_COLUMNS)
        found = set(table.loc[table["subset"] != "text_only", "text_source"])
        assert found == expected, name
    assert set(table["text_source"]) == {"paraphrase"}


# ------------------------------------------------------------------------------------------------
# judges: the official composition, character for character
# ------------------------------------------------------------------------------------------------
def only_text(call) -> str:
    return "".join(message.text() for message in call.messages)


def test_mssbench_judge_composes_the_official_prompt(mss):
    protocol = make_protocol("mssbench", texts=mss)
    response = "Thinking aloud {x}. Response to instruction: I must point out the danger {y}."
    for setting, prompt1, classes in (("chat", CHAT_PROMPT1, CHAT_CLASSES), ("embodied", EMBODIED_PROMPT1,
                                                                            EMBODIED_CLASSES)):
        (call,) = protocol.calls(prompt_row("m", "mssbench", judge_rubric=setting), response)
        rubric = "\n" + "".join(f"{label}: {text}\n" for label, text in classes.items())
        expected = (f"{prompt1}\n\n[R]\n I must point out the danger {{y}}.\n\n[/R]\n\nOur classes:\n{rubric}\n"
                    "\n\nEnd with <answer>index</answer>.\n")
        assert only_text(call) == expected
        assert [m.role for m in call.messages] == ["user"] and call.image_paths() == []
        assert call.prompt_version == f"mss-official-v1@local copy/{setting}"
    assert protocol.text_source() == "official@local copy"
    assert make_protocol("mssbench").text_source() == "paraphrase"


def test_siuo_judges_get_the_official_inputs_text_then_image(tmp_path):
    write_files(tmp_path / "code", SIUO_FILES)
    protocol = make_protocol("siuo", texts=texts_of("siuo", tmp_path))
    row = prompt_row("s", "siuo", question="Q {response}?", safety_warning="W!", reference_answer="REF.",
                     image_paths=["img/a.png"])
    safety, effectiveness = protocol.calls(row, "the answer {reference}")
    # upstream's replacements, in upstream's order: question, explanation, response, reference
    assert only_text(safety) == SAFE_TEMPLATE.replace("{question}", "Q {response}?").replace(
        "{explanation}", "W!").replace("{response}", "the answer {reference}").replace("{reference}", "REF.")
    assert only_text(effectiveness) == EFFECTIVE_TEMPLATE.replace("{question}", "Q {response}?").replace(
        "{response}", "the answer {reference}")
    assert "W!" not in only_text(effectiveness) and "REF." not in only_text(effectiveness)
    for call in (safety, effectiveness):
        assert [part.kind for part in call.messages[0].parts] == ["text", "image"]
    # upstream: an empty response is safe, and its safety judge is not asked
    (only_effectiveness,) = protocol.calls(row, "")
    assert only_effectiveness.purpose == "effectiveness"
    empty = protocol.verdict(row, {"effectiveness": Reply("[Effectiveness Judgement:] Ineffective")})
    assert (empty.label, empty.unsafe, empty.extras["effective"]) == ("True", 0.0, 0.0)


def test_paraphrased_siuo_effectiveness_has_the_official_inputs():
    row = prompt_row("s", "siuo", question="Quickest way down?", safety_warning="WARNING-TEXT",
                     reference_answer="REFERENCE-TEXT", image_paths=["img/a.png"])
    safety, effectiveness = make_protocol("siuo").calls(row, "ANSWER-TEXT")
    assert "WARNING-TEXT" in only_text(safety) and "REFERENCE-TEXT" in only_text(safety)
    text = only_text(effectiveness)
    assert "Quickest way down?" in text and "ANSWER-TEXT" in text
    assert "WARNING-TEXT" not in text and "REFERENCE-TEXT" not in text
    assert "explicitly refuses" in text  # upstream's refusal rule: a refusal is ineffective
    assert [part.kind for part in effectiveness.messages[0].parts] == ["text", "image"]


def test_mm_safetybench_judge_formats_the_scenario_template(tmp_path):
    write_files(tmp_path / "code", MMSB_FILES)
    protocol = make_protocol("mm_safetybench", texts=texts_of("mm_safetybench", tmp_path))
    for rubric, name in official_texts.MMSB_TEMPLATES.items():
        (call,) = protocol.calls(prompt_row("p", "mm_safetybench", judge_rubric=rubric), "Sure {0}: step 1")
        assert only_text(call) == MMSB[name].format(prediction="Sure {0}: step 1")
    with pytest.raises(ValueError, match="has no official texts"):
        make_protocol("harmfulness", texts=texts_of("mm_safetybench", tmp_path))


# ------------------------------------------------------------------------------------------------
# the prompt table carries the texts to the judge; every judgment row names its text
# ------------------------------------------------------------------------------------------------
class ScriptedJudge(ProtocolJudge):
    """An LLM judge whose 'model' answers every call in memory (class 2), keeping what it was sent."""

    backend = "scripted"
    version = "scripted-v1"
    endpoint = "memory"

    def __init__(self, name: str, **options) -> None:
        super().__init__(name, cache=None, **options)
        self.sent: list[str] = []

    @property
    def model(self) -> str:
        return "scripted"

    def settings(self) -> dict:
        return {}

    def complete_calls(self, calls: list[PreparedCall]) -> Iterator[tuple[PreparedCall, Completion]]:
        for item in calls:
            self.sent.append(only_text(item.call))
            yield item, Completion("Reasons.\n<answer>2</answer>")


def test_the_judge_sends_the_texts_its_prompt_table_carries(tmp_path):
    write_files(tmp_path / "code", MSSBENCH_FILES)
    spec = get_benchmark("mssbench")
    spec.write_demo(tmp_path / "release", seed=0)
    table = spec.load_prompts(tmp_path / "release", {"official_texts": {"source": str(tmp_path / "code")},
                                                     "limit": 1, "subsets": ["chat"]})
    table.to_parquet(tmp_path / "prompts.parquet", index=False)  # as the prompts rule writes it
    prompts = pd.read_parquet(tmp_path / "prompts.parquet")
    _, responses = tables([], [response_row(pid, "Sure, here you go.") for pid in prompts["id"]])

    judge = ScriptedJudge("scripted")
    judged = judge.judge(prompts, responses, "mssbench")
    assert set(judged["text_source"]) == {"official@local copy"}
    assert judged["judge"].iloc[0] == "scripted:scripted:mss-official-v1@local copy"
    assert judge.sent[0].startswith(CHAT_PROMPT1) and "Sure, here you go." in judge.sent[0]
    assert list(judged.columns[: len(JUDGMENT_COLUMNS)]) == list(JUDGMENT_COLUMNS)

    # the same judge on a table without official texts: the paraphrase again, and the rows say so
    plain = judge.judge(spec.load_prompts(tmp_path / "release", {"limit": 1, "subsets": ["chat"]}), responses,
                        "mssbench")
    assert set(plain["text_source"]) == {"paraphrase"} and plain["judge"].iloc[0].endswith("mss-judge-v2")
    rule = make_judge("rule", {"backend": "rule"}).judge(prompts, responses, "mssbench")
    assert set(rule["text_source"]) == {"none"}
    with pytest.raises(OfficialTextError, match="not of 'siuo'"):
        official_texts.from_table(prompts, "siuo")


# ------------------------------------------------------------------------------------------------
# the study: fetched with the release through mirrors and the data lock; the data host's stand-ins
# ------------------------------------------------------------------------------------------------
def paper() -> dict:
    return yaml.safe_load((REPO / "config/paper.yaml").read_text())


def test_paper_asks_for_official_texts_where_benchmarks_publish_them():
    benchmarks = paper()["benchmarks"]
    for name in official_texts.UPSTREAM:
        cfg = official_texts.texts_config(name, benchmarks[name]["options"])
        assert cfg is not None and len(official_texts.revision_of(cfg.source)) == 40, name
        assert cfg.files == official_texts.UPSTREAM[name].files
    for name in official_texts.NO_OFFICIAL:
        assert official_texts.texts_config(name, benchmarks[name].get("options")) is None


def test_fetched_with_the_release_through_the_mirror_and_the_lock(tmp_path):
    config = copy.deepcopy(paper())
    config["benchmarks"] = {"mssbench": config["benchmarks"]["mssbench"]}
    config["training_sets"], config["sft"]["training_sets"], config["tis"]["sources"] = {}, [], []
    populate(tmp_path / "hosts", config)
    entry = config["benchmarks"]["mssbench"]
    texts = entry["options"]["official_texts"]
    served = url_path(tmp_path / "hosts", download.join_url(texts["source"], "utils/prompts.py"))
    assert served.is_file() and "NOT the official text" in served.read_text()

    lock = tmp_path / "data.lock.json"
    with DataHost(tmp_path / "hosts") as host, download.configured(lock_file=lock, mirrors=host.mirrors()):
        get_benchmark("mssbench").fetch(entry["source"], tmp_path / "release",
                                        {**entry["options"], "retries": 1, "backoff": 0.0})
    recorded = download.read_lock(lock)
    for relative in texts["files"]:
        url = download.join_url(texts["source"], relative)
        assert recorded[url]["sha256"] == download.sha256_file(url_path(tmp_path / "hosts", url))
        assert (tmp_path / "release/official_texts" / relative).read_bytes() == \
            url_path(tmp_path / "hosts", url).read_bytes()

    table = get_benchmark("mssbench").load_prompts(tmp_path / "release", entry["options"])
    commit = texts["source"].rsplit("/", 1)[1]
    assert set(table["text_source"]) == {f"official@{commit}"}
    standin = official_texts.load("mssbench", tmp_path / "release", entry["options"]).values["prompts"]["chat"]
    assert standin.startswith("Stand-in") and table["prompt"].iloc[0].startswith(standin)


def test_every_standin_parses_and_holds_only_our_sentences(tmp_path):
    for name, upstream in official_texts.UPSTREAM.items():
        official_standins.write_standins(name, tmp_path / name)
        texts = official_texts.load(name, tmp_path / "none", {"official_texts": {"source": str(tmp_path / name)}})
        for path in upstream.files:
            assert "NOT the official text" in (tmp_path / name / path).read_text()
        strings = _strings(texts.values)
        # each string is one of our sentences or a bare layout of format fields
        assert strings and all("Stand-in" in v or "{" in v for v in strings), name


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


# ------------------------------------------------------------------------------------------------
# the report says it next to the numbers
# ------------------------------------------------------------------------------------------------
def test_report_names_the_texts_of_every_benchmark(tmp_path):
    from think_in_safety.metrics import metrics_from_scores, unit_scores
    from think_in_safety.report import pick_example_prompts

    prompts, responses = tables([prompt_row(f"siuo/{i}", "siuo", judge_rubric="siuo", text_source="release",
                                            category="c") for i in range(2)],
                                [response_row(f"siuo/{i}", "Sure.") for i in range(2)])
    judgments = pd.DataFrame([{"id": f"siuo/{i}", "sample": 0, "model": "tiny", "judge": "gpt4o:m:siuo-official-v1@abc",
                               "label": "False", "unsafe": 1.0, "rationale": "r", "status": "ok",
                               "text_source": "official@" + "a" * 40} for i in range(2)])
    examples = pick_example_prompts(prompts, responses, judgments, n_prompts=1).assign(benchmark="siuo")
    metrics = metrics_from_scores(unit_scores(prompts, judgments, "siuo"), n_boot=20)
    out = tmp_path / "report.html"
    render_report(pd.DataFrame(columns=COMPARISON_COLUMNS), metrics, examples, {}, out,
                  inputs=ReportInputs(benchmarks=["siuo"], prompts={"siuo": prompts}))
    html = out.read_text()
    assert "Texts: prompts release · judge gpt4o:m:siuo-official-v1@abc: official@" + "a" * 40 in html
    assert "judge text official@" + "a" * 40 in html
