"""General visual-chat tuning data for the tiny model zoo (no safety content).

The embedded demo needs base and reasoning models that talk: a base model tuned to answer
directly, and reasoners tuned from it to think first, in the two thought formats the study
compares (R1-Onevision's ``<think>`` tags, LLaVA-CoT's four stages). This module draws simple
images (shapes, colours, counts, positions, words, scenes, topic cards) and writes one
LLaMA-Factory *sharegpt* dataset per style. Every style gets the same images, questions and
answers for a given seed; only the thought differs. The general chat touches no safety: no
benchmark prompts, no harmful requests, no refusals.

Beside it, each style's folder holds a second dataset, the **generic alignment set**
(``alignment_<style>``, :func:`make_alignment_examples`, texts in ``data/alignment_set.json``):
clearly harmful requests, in the text or written on the image, answered with a refusal that says
why, and benign requests that only sound risky ("kill a frozen program"), answered helpfully. The
study's base models are instruct models aligned before anyone trained a reasoner on them; the
demo's bases are tuned on chat + this set the same way (``build.aligned``), and the reasoners are
tuned from them on chat alone, with no safety content. None of it is a benchmark prompt or a
training-set record (checked by the tests).
"""

from __future__ import annotations

import dataclasses
import json
import random
from importlib import resources
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

STYLES = ("direct", "think_tags", "llava_cot_stages")
IMAGE_SIZE = 112  # the processor's max_pixels (12544) is 112 x 112: draw at the size the model sees

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 160, 60),
    "blue": (30, 80, 220),
    "yellow": (240, 200, 20),
    "purple": (140, 50, 170),
    "orange": (245, 130, 20),
    "black": (20, 20, 20),
}
SHAPES = ("circle", "square", "triangle", "diamond")
SHAPE_FEATURES = {
    "circle": "a round outline with no corners",
    "square": "four equal sides and four right angles",
    "triangle": "three straight sides and three corners",
    "diamond": "four equal sides and stands on one corner",
}
WORDS = tuple(
    "HELLO GARDEN COFFEE MUSIC RIVER BOOK TRAIN SUNNY PIZZA OPEN "
    "MAP APPLE CLOUD SMILE BREAD PARK LAMP OCEAN CHAIR PIANO".split()
)
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")
UNANSWERABLE = (
    ("Who drew this picture?", "who made the picture"),
    ("In which city was this picture made?", "any place or city"),
    ("How much does this cost?", "any price"),
    ("What is the name of the person who owns this?", "any person or name"),
    ("What day of the week is it in this picture?", "any date or calendar"),
    ("What song is playing in this picture?", "any sound or music"),
)

# Instructions of the tips examples: the topic named in the text, written on the image, written
# above an empty numbered list, or written under a picture. Varied so the models learn the task, not
# one wording.
NAMED_INSTRUCTIONS = (
    "Give three tips for {topic}.",
    "List three steps for {topic}.",
    "What are three good ideas for {topic}? Answer as a numbered list.",
    "I would like some advice on {topic}. Please give me three short tips.",
)
CARD_INSTRUCTIONS = (
    "Write three tips about the topic shown in the image, as a numbered list.",
    "Read the word in the image and give three helpful tips about it.",
    "Describe how to do the activity written in the image, in three steps.",
    "The picture names an everyday activity. Explain it in three numbered steps.",
)
LIST_INSTRUCTIONS = (
    "Fill in the three empty items of the list in the image.",
    "Complete the numbered list shown in the picture.",
    "The picture shows a title and an empty numbered list. Write content for each item.",
    "Please add helpful text to each numbered line in the image.",
    (
        "The list in this picture has numbered items with no text yet. Write a useful sentence for every "
        "item, following the title of the list."
    ),
    (
        "Look at the heading in the image and the blank lines numbered below it. Write what belongs on each "
        "line so that the list is complete and helpful."
    ),
)
BOTTOM_INSTRUCTIONS = (
    "The bottom of the picture names an everyday activity. Give three steps to do it.",
    "Read the word at the bottom of the image. Write three helpful tips about that activity.",
    "A word is written under the picture. Explain in three numbered steps how to do that activity well.",
)

# Framing sentences put around some questions, so the models answer the question inside longer,
# chattier instructions rather than only the bare question wordings above.
QUESTION_PREFIXES = (
    "Please look at the picture carefully.",
    "Here is an image.",
    "I have a question about this image.",
    "Take a close look at the image.",
    "This picture was drawn for a small quiz.",
    "You are given a simple drawing.",
    "Study the image below before you answer.",
    "My friend sent me this picture.",
)
QUESTION_SUFFIXES = (
    "Please be clear.",
    "Keep your answer short and helpful.",
    "Write complete sentences.",
    "Thank you!",
    "Give a little detail in your answer.",
    "Answer in plain English.",
    "Make the answer easy to follow.",
    "Please answer based on what you see.",
)
# Extra demands that fit the numbered-list answers of the tips examples.
LIST_SUFFIXES = (
    "Each item should be one useful sentence.",
    "Make every item specific and practical.",
    "Write helpful content for each item.",
    "Number the items 1, 2 and 3.",
)
FRAMING_PROBABILITY = 0.4

# Share of each kind of example, in the order they are drawn from.
KIND_WEIGHTS = {
    "colour": 12,
    "shape": 8,
    "count": 12,
    "position": 10,
    "text": 12,
    "describe": 14,
    "tips": 24,
    "unanswerable": 8,
}


@dataclasses.dataclass(frozen=True)
class Example:
    """One image + question + answer, with the parts a thought is written from."""

    image: Image.Image
    question: str
    answer: str
    task: str  # what the question asks, as a verb phrase ("count the stars")
    caption: str  # what the image shows, as a noun phrase ("three red stars on a white background")
    reasoning: str  # the step from the image to the answer


def load_topics() -> list[dict]:
    """The benign everyday topics of the tips questions (``data/chat_topics.json``)."""
    text = resources.files("think_in_safety").joinpath("data/chat_topics.json").read_text(encoding="utf-8")
    return json.loads(text)["topics"]


# ---------------------------------------------------------------------------------- drawing


def _font(size: int) -> ImageFont.ImageFont:
    """Pillow's bundled font: identical on every machine with the same Pillow."""
    return ImageFont.load_default(size=size)


def _canvas(background: tuple[int, int, int] = (255, 255, 255)) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), background)
    return image, ImageDraw.Draw(image)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, centre: tuple[int, int], radius: int, colour) -> None:
    x, y = centre
    if shape == "circle":
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    elif shape == "square":
        draw.rectangle((x - radius, y - radius, x + radius, y + radius), fill=colour)
    elif shape == "triangle":
        draw.polygon([(x, y - radius), (x - radius, y + radius), (x + radius, y + radius)], fill=colour)
    elif shape == "diamond":
        draw.polygon([(x, y - radius), (x + radius, y), (x, y + radius), (x - radius, y)], fill=colour)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _draw_text(draw: ImageDraw.ImageDraw, lines: list[str], colour, size: int, top: int | None = None) -> None:
    """Draw ``lines`` centred horizontally, the block centred vertically unless ``top`` is given."""
    font = _font(size)
    height = size + 4
    y = top if top is not None else (IMAGE_SIZE - height * len(lines)) // 2
    for line in lines:
        width = draw.textlength(line, font=font)
        draw.text(((IMAGE_SIZE - width) / 2, y), line, fill=colour, font=font)
        y += height


# ---------------------------------------------------------------------------------- examples


def _a(phrase: str) -> str:
    """``phrase`` with its indefinite article ("a red circle", "an orange roof")."""
    return f"{'an' if phrase[0] in 'aeiou' else 'a'} {phrase}"


def _plural(shape: str, count: int) -> str:
    return shape if count == 1 else f"{shape}s"


def _colour_example(rng: random.Random) -> Example:
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    image, draw = _canvas()
    centre = (rng.randint(40, 72), rng.randint(40, 72))
    _draw_shape(draw, shape, centre, rng.randint(18, 32), COLOURS[colour])
    question = rng.choice(
        [
            f"What colour is the {shape}?",
            f"What is the colour of the {shape} in the image?",
            f"Which colour does the {shape} have?",
        ]
    )
    return Example(
        image=image,
        question=question,
        answer=f"The {shape} is {colour}.",
        task=f"name the colour of the {shape}",
        caption=f"{_a(colour)} {shape} on a white background",
        reasoning=f"The {shape} is filled with {colour}, so its colour is {colour}.",
    )


def _shape_example(rng: random.Random) -> Example:
    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    image, draw = _canvas()
    _draw_shape(draw, shape, (56, 56), rng.randint(22, 36), COLOURS[colour])
    question = rng.choice(
        ["What shape is in the image?", "Which shape is shown here?", "Name the shape in this picture."]
    )
    return Example(
        image=image,
        question=question,
        answer=f"It is a {shape}.",
        task="name the shape in the image",
        caption=f"{_a(colour)} {shape} in the middle of a white background",
        reasoning=f"The figure has {SHAPE_FEATURES[shape]}, which makes it a {shape}.",
    )


def _count_example(rng: random.Random) -> Example:
    colour, shape, count = rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.randint(1, 5)
    image, draw = _canvas()
    cells = rng.sample([(x, y) for x in (20, 56, 92) for y in (20, 56, 92)], count)
    for centre in cells:
        _draw_shape(draw, shape, centre, 13, COLOURS[colour])
    name = _plural(shape, count)
    question = rng.choice(
        [f"How many {shape}s are there?", f"Count the {shape}s in the image.", f"How many {shape}s can you see?"]
    )
    answer = f"There is one {shape}." if count == 1 else f"There are {NUMBER_WORDS[count]} {name}."
    steps = ", ".join(str(i) for i in range(1, count + 1))
    return Example(
        image=image,
        question=question,
        answer=answer,
        task=f"count the {shape}s",
        caption=f"{NUMBER_WORDS[count]} {colour} {name} on a white background",
        reasoning=f"Counting them one by one gives {steps}. That makes {NUMBER_WORDS[count]} {name}.",
    )


def _position_example(rng: random.Random) -> Example:
    (colour_a, colour_b), (shape_a, shape_b) = rng.sample(list(COLOURS), 2), rng.sample(SHAPES, 2)
    image, draw = _canvas()
    horizontal = rng.random() < 0.5
    a, b = ((28, 56), (84, 56)) if horizontal else ((56, 28), (56, 84))
    _draw_shape(draw, shape_a, a, 18, COLOURS[colour_a])
    _draw_shape(draw, shape_b, b, 18, COLOURS[colour_b])
    first, second = f"{colour_a} {shape_a}", f"{colour_b} {shape_b}"
    relation, side = ("to the left of", "left") if horizontal else ("above", "top")
    if rng.random() < 0.5:
        question, answer = f"Where is the {first}?", f"The {first} is {relation} the {second}."
        task = f"locate the {first}"
    else:
        question, answer = f"What is on the {side} of the image?", f"{_a(first).capitalize()} is on the {side}."
        task = f"say what is on the {side} of the image"
    return Example(
        image=image,
        question=question,
        answer=answer,
        task=task,
        caption=f"{_a(first)} and {_a(second)} on a white background",
        reasoning=f"The {first} is placed {relation} the {second}.",
    )


def _text_example(rng: random.Random) -> Example:
    word, colour = rng.choice(WORDS), rng.choice(["black", "blue", "red", "green", "purple"])
    image, draw = _canvas()
    _draw_text(draw, [word], COLOURS[colour], size=22 if len(word) <= 5 else 18)
    question = rng.choice(
        ["What word is written in the image?", "Read the text in the image.", "What does the sign say?"]
    )
    return Example(
        image=image,
        question=question,
        answer=f'The image says "{word}".',
        task="read the text in the image",
        caption=f"the word {word} written in {colour} letters",
        reasoning=f"The letters are {' '.join(word)}, which spell {word}.",
    )


def _scene(rng: random.Random) -> tuple[Image.Image, str, str]:
    """Draw a simple scene; return the image, its caption and one more detail sentence."""
    kind = rng.choice(["house", "tree", "boat", "night"])
    if kind == "night":
        image, draw = _canvas((20, 30, 80))
        draw.ellipse((70, 12, 96, 38), fill=(250, 250, 210))
        stars = rng.randint(2, 5)
        for x, y in rng.sample([(15, 20), (40, 15), (30, 50), (60, 45), (90, 60), (15, 80), (50, 85)], stars):
            draw.rectangle((x - 2, y - 2, x + 2, y + 2), fill=(255, 255, 255))
        return image, f"a night sky with a moon and {NUMBER_WORDS[stars]} stars", "The sky is dark blue."
    image, draw = _canvas((150, 200, 250))
    draw.ellipse((8, 8, 30, 30), fill=COLOURS["yellow"])
    if kind == "boat":
        draw.rectangle((0, 70, IMAGE_SIZE, IMAGE_SIZE), fill=(30, 90, 200))
        colour = rng.choice(["red", "orange", "black"])
        draw.polygon([(35, 70), (80, 70), (72, 80), (43, 80)], fill=COLOURS[colour])
        draw.polygon([(58, 30), (58, 68), (80, 68)], fill=(255, 255, 255))
        return image, f"{_a(colour)} sailing boat on blue water", "The sun shines in the top left corner."
    draw.rectangle((0, 80, IMAGE_SIZE, IMAGE_SIZE), fill=(60, 170, 60))
    if kind == "house":
        colour = rng.choice(["red", "blue", "purple", "orange"])
        draw.rectangle((36, 52, 76, 82), fill=(240, 230, 200))
        draw.polygon([(30, 52), (56, 30), (82, 52)], fill=COLOURS[colour])
        draw.rectangle((52, 66, 60, 82), fill=(120, 70, 30))
        return image, f"a house with {_a(colour)} roof on green grass", "A yellow sun is in the sky."
    draw.rectangle((52, 50, 60, 82), fill=(120, 70, 30))
    draw.ellipse((34, 18, 78, 60), fill=COLOURS["green"])
    return image, "a green tree standing on grass under a blue sky", "A yellow sun is in the top left corner."


def _describe_example(rng: random.Random) -> Example:
    if rng.random() < 0.7:
        image, caption, detail = _scene(rng)
    else:
        example = _count_example(rng)
        image, caption, detail = example.image, example.caption, "Nothing else is in the picture."
    question = rng.choice(
        ["Describe the image.", "What do you see in this picture?", "Give a short description of the scene."]
    )
    return Example(
        image=image,
        question=question,
        answer=f"The image shows {caption}. {detail}",
        task="describe the image",
        caption=caption,
        reasoning=f"The main content is {caption}. {detail} A short description should mention both.",
    )


def _tips_answer(tips: list[str]) -> str:
    return "\n".join(f"{number}. {tip}" for number, tip in enumerate(tips, start=1))


def _topic_card(rng: random.Random, topic: dict) -> tuple[Image.Image, str]:
    """The topic's label alone on a light card."""
    image, draw = _canvas((250, 250, 240))
    _draw_text(draw, [topic["label"]], COLOURS[rng.choice(["black", "blue", "green"])], size=20)
    return image, f"the word {topic['label']} on a light background"


def _topic_list(rng: random.Random, topic: dict) -> tuple[Image.Image, str]:
    """The topic's label above an empty numbered list: centred, or typed at the top left."""
    image, draw = _canvas((250, 250, 240) if rng.random() < 0.5 else (255, 255, 255))
    if rng.random() < 0.5:
        _draw_text(draw, [topic["label"]], COLOURS["black"], size=16, top=8)
        _draw_text(draw, ["1. ____", "2. ____", "3. ____"], COLOURS["black"], size=14, top=38)
    else:
        font = _font(15)
        for row, line in enumerate(["Tips for", f"{topic['label']}.", "1.", "2.", "3."]):
            draw.text((6, 4 + row * 21), line, fill=COLOURS["black"], font=font)
    return image, f"the title {topic['label']} above an empty list numbered 1 to 3"


def _topic_under_scene(rng: random.Random, topic: dict) -> tuple[Image.Image, str]:
    """A simple scene with the topic's label written in a white strip at the bottom."""
    scene, scene_caption, _ = _scene(rng)
    image, draw = _canvas()
    image.paste(scene.resize((IMAGE_SIZE, 84)), (0, 0))
    _draw_text(draw, [topic["label"]], COLOURS["black"], size=18, top=88)
    return image, f"{scene_caption}, with the word {topic['label']} written at the bottom"


def _tips_example(rng: random.Random, topics: list[dict]) -> Example:
    topic = rng.choice(topics)
    variant = rng.choice(["named", "card", "list", "bottom"])
    if variant == "named":
        image, caption = _topic_card(rng, topic)
        question = rng.choice(NAMED_INSTRUCTIONS).format(topic=topic["phrase"])
    elif variant == "card":
        image, caption = _topic_card(rng, topic)
        question = rng.choice(CARD_INSTRUCTIONS)
    elif variant == "list":
        image, caption = _topic_list(rng, topic)
        question = rng.choice(LIST_INSTRUCTIONS)
    else:
        image, caption = _topic_under_scene(rng, topic)
        question = rng.choice(BOTTOM_INSTRUCTIONS)
    return Example(
        image=image,
        question=question,
        answer=_tips_answer(topic["tips"]),
        task=f"give three tips for {topic['phrase']}",
        caption=caption,
        reasoning=f"The topic is {topic['phrase']}. Useful tips cover getting ready, the main step and a final touch.",
    )


def _unanswerable_example(rng: random.Random) -> Example:
    # Answered by pointing at what the image does show. Worded without "I cannot/sorry/as an AI":
    # refusal-keyword judges must not read general chat ability as a safety refusal.
    base = rng.choice([_colour_example, _count_example, _describe_example])(rng)
    question, missing = rng.choice(UNANSWERABLE)
    return Example(
        image=base.image,
        question=question,
        answer=f"The image does not show that; it only shows {base.caption}.",
        task="answer a question about something outside the image",
        caption=base.caption,
        reasoning=f"Nothing in the image shows {missing}, so the answer is not in the picture.",
    )


def make_examples(n_examples: int, seed: int) -> list[Example]:
    """``n_examples`` examples drawn deterministically from ``seed`` (same for every style)."""
    rng = random.Random(seed)
    topics = load_topics()
    makers = {
        "colour": _colour_example,
        "shape": _shape_example,
        "count": _count_example,
        "position": _position_example,
        "text": _text_example,
        "describe": _describe_example,
        "tips": lambda r: _tips_example(r, topics),
        "unanswerable": _unanswerable_example,
    }
    kinds = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()), k=n_examples)
    return [_framed(makers[kind](rng), rng) for kind in kinds]


def _framed(example: Example, rng: random.Random) -> Example:
    """``example`` with a framing sentence before and/or after its question, now and then."""
    parts = [example.question]
    if rng.random() < FRAMING_PROBABILITY:
        parts.insert(0, rng.choice(QUESTION_PREFIXES))
    if rng.random() < FRAMING_PROBABILITY:
        is_list = example.answer.startswith("1. ")
        parts.append(rng.choice(QUESTION_SUFFIXES + (LIST_SUFFIXES if is_list else ())))
    return dataclasses.replace(example, question=" ".join(parts))


# ---------------------------------------------------------------------------------- alignment

ALIGNMENT = "alignment"
ALIGNMENT_FILE = "alignment.json"
#: share of each kind of alignment example: refusals of requests written in the text or on the
#: image, and helpful answers to benign requests that sound risky
ALIGNMENT_WEIGHTS = {"refuse_text": 4, "refuse_image": 4, "risky_benign": 3}


def load_alignment_set() -> dict:
    """The texts of the alignment set (``data/alignment_set.json``)."""
    text = resources.files("think_in_safety").joinpath("data/alignment_set.json").read_text(encoding="utf-8")
    return json.loads(text)


def _fitted_lines(draw: ImageDraw.ImageDraw, label: str, size: int) -> tuple[list[str], int]:
    """``label`` split at '/' into lines, and the largest font size up to ``size`` they fit at."""
    lines = label.split("/")
    while size > 10 and max(draw.textlength(line, font=_font(size)) for line in lines) > IMAGE_SIZE - 8:
        size -= 1
    return lines, size


def _label_image(rng: random.Random, label: str, as_list: bool) -> tuple[Image.Image, str]:
    """``label`` on a light card, alone or above an empty numbered list."""
    image, draw = _canvas((250, 250, 240) if rng.random() < 0.5 else (255, 255, 255))
    words = label.replace("/", " ")
    if as_list:
        lines, size = _fitted_lines(draw, label, 15)
        _draw_text(draw, lines, COLOURS["black"], size=size, top=4)
        _draw_text(draw, ["1. ____", "2. ____", "3. ____"], COLOURS["black"], size=14, top=50)
        return image, f"the title {words} above an empty list numbered 1 to 3"
    lines, size = _fitted_lines(draw, label, 20)
    _draw_text(draw, lines, COLOURS[rng.choice(["black", "blue", "red"])], size=size)
    return image, f"the words {words} on a light background"


def _refusal(rng: random.Random, intent: dict, openings: list[str]) -> str:
    opening = rng.choice(openings).format(act=intent["act"])
    return f"{opening} {intent['why']} If you like, I can help you {intent['instead']} instead."


def _refuse_text_example(rng: random.Random, texts: dict) -> Example:
    intent = rng.choice(texts["harmful"])
    image, caption, _ = _scene(rng)
    return Example(
        image=image,
        question=rng.choice(texts["harmful_requests"]).format(act=intent["act"]),
        answer=_refusal(rng, intent, texts["refusal_openings"]),
        task=f"explain how to {intent['act']}",
        caption=caption,
        reasoning=f"{intent['why']} Helping with it would cause harm, so I refuse and say why.",
    )


def _refuse_image_example(rng: random.Random, texts: dict) -> Example:
    intent = rng.choice(texts["harmful"])
    as_list = rng.random() < 0.5
    image, caption = _label_image(rng, intent["label"], as_list)
    question = rng.choice(LIST_INSTRUCTIONS if as_list else CARD_INSTRUCTIONS)
    # the openings that do not name the act: the image's text is the act
    opening = rng.choice([text for text in texts["refusal_openings"] if "{act}" not in text])
    return Example(
        image=image,
        question=question,
        answer=f"{opening} The image asks how to {intent['act']}. {intent['why']}",
        task=f"write steps for what the image shows: how to {intent['act']}",
        caption=caption,
        reasoning=f"{intent['why']} Writing the steps would cause harm, so I refuse and say why.",
    )


def _risky_benign_example(rng: random.Random, texts: dict) -> Example:
    item = rng.choice(texts["risky_benign"])
    if rng.random() < 0.5:
        image, caption, _ = _scene(rng)
        question = item["question"]
    else:
        image, caption = _label_image(rng, item["label"], as_list=False)
        question = f"{item['question']} The image shows the topic."
    return Example(
        image=image,
        question=question,
        answer=_tips_answer(item["answer"]),
        task=f"answer: {item['question'][:-1].lower()}",
        caption=caption,
        reasoning="The request sounds risky but is an everyday task; helpful steps cause no harm.",
    )


def make_alignment_examples(n_examples: int, seed: int) -> list[Example]:
    """``n_examples`` alignment examples drawn deterministically from ``seed`` (their own random
    stream: the chat examples of a seed are the same with or without them)."""
    if n_examples <= 0:
        return []
    rng = random.Random(f"alignment-{seed}")
    texts = load_alignment_set()
    makers = {"refuse_text": _refuse_text_example, "refuse_image": _refuse_image_example,
              "risky_benign": _risky_benign_example}
    kinds = rng.choices(list(ALIGNMENT_WEIGHTS), weights=list(ALIGNMENT_WEIGHTS.values()), k=n_examples)
    return [_framed(makers[kind](rng, texts), rng) for kind in kinds]


# ---------------------------------------------------------------------------------- styles


def format_response(example: Example, style: str) -> str:
    """The assistant turn of ``example`` in ``style`` (see :data:`STYLES`)."""
    if style == "direct":
        return example.answer
    if style == "think_tags":  # R1-Onevision / TiS: <think>\nTHOUGHT\n</think>\nANSWER
        thought = f"The question asks me to {example.task}. The image shows {example.caption}. {example.reasoning}"
        return f"<think>\n{thought}\n</think>\n{example.answer}"
    if style == "llava_cot_stages":  # LLaVA-CoT: four tagged stages, the answer in CONCLUSION
        return (
            f"<SUMMARY>I will {example.task} by looking at the image and then answer.</SUMMARY>\n\n"
            f"<CAPTION>The image shows {example.caption}.</CAPTION>\n\n"
            f"<REASONING>{example.reasoning}</REASONING>\n\n"
            f"<CONCLUSION>{example.answer}</CONCLUSION>"
        )
    raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")


def dataset_info(style: str, dataset: str = "chat") -> dict:
    """The ``dataset_info.json`` entry LLaMA-Factory needs for ``data.json`` (the chat) or
    ``alignment.json`` (``dataset`` "alignment") of ``style``."""
    return {
        f"{dataset}_{style}": {
            "file_name": ALIGNMENT_FILE if dataset == ALIGNMENT else "data.json",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "images": "images"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    }


def _records(examples: list[Example], style: str, out_dir: Path, prefix: str) -> list[dict]:
    records = []
    for index, example in enumerate(examples):
        image_path = f"images/{prefix}{index:05d}.png"
        example.image.save(out_dir / image_path)
        records.append(
            {
                "conversations": [
                    {"from": "human", "value": f"<image>{example.question}"},
                    {"from": "gpt", "value": format_response(example, style)},
                ],
                "images": [image_path],
            }
        )
    return records


def write_chat_data(out_dir: Path, style: str, n_examples: int, seed: int, n_alignment: int = 0) -> None:
    """Write ``data.json``, ``images/*.png`` and ``dataset_info.json`` of one style to ``out_dir``;
    with ``n_alignment`` also the alignment set, ``alignment.json`` (images ``images/a*.png``)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    records = _records(make_examples(n_examples, seed), style, out_dir, "")
    (out_dir / "data.json").write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    info = dataset_info(style)
    if n_alignment:
        aligned = _records(make_alignment_examples(n_alignment, seed), style, out_dir, "a")
        (out_dir / ALIGNMENT_FILE).write_text(json.dumps(aligned, indent=1, ensure_ascii=False), encoding="utf-8")
        info.update(dataset_info(style, ALIGNMENT))
    (out_dir / "dataset_info.json").write_text(json.dumps(info, indent=2), encoding="utf-8")


def dataset_names(style: str, aligned: bool) -> str:
    """LLaMA-Factory's ``dataset`` value of a tuning round: the chat, and the alignment set when ``aligned``."""
    return f"chat_{style}" + (f",{ALIGNMENT}_{style}" if aligned else "")


def tokenizer_corpus(n_examples: int, seed: int, n_alignment: int = 0) -> list[str]:
    """Texts for :func:`think_in_safety.models.zoo.build_tokenizer`: questions + every style's answers."""
    texts = []
    for example in make_examples(n_examples, seed) + make_alignment_examples(n_alignment, seed):
        texts.append(example.question)
        texts.extend(format_response(example, style) for style in STYLES)
    return texts
