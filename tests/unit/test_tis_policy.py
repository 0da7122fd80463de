"""think_in_safety.tis.policy: the written policy, category mapping, decisions."""

import pytest

from think_in_safety.tis.policy import DECISIONS, UNSPECIFIED, classify, decision_for, load_policy


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def test_packaged_policy_is_complete(policy):
    assert set(policy.taxonomy) == set(DECISIONS)
    assert policy.label("disallowed") == "Disallowed Requests"
    assert policy.label("safe_completion") == "Safe-Completion Requests"
    assert {"privacy", "self_harm", "professional_advice"} <= set(policy.categories)
    text = policy.as_text()
    assert "Safety Regulations" in text and "Allowed Requests" in text and "Privacy violation" in text


@pytest.mark.parametrize("labels, expected", [
    (["personal data", "privacy"], "privacy"),                      # VLGuard subcategory first
    (["sexually explicit", "risky behavior"], "sexual"),            # longest match beats 'sex'
    (["sex", "discrimination"], "hate"),                            # VLGuard 'discrimination by sex'
    (["professional advice", "risky behavior"], "professional_advice"),
    (["financial fraud", "Fraud or deceptive action", "Malicious Use"], "deception"),  # SPA-VL classes
])
def test_source_labels_map_to_categories(policy, labels, expected):
    assert classify(policy, labels) == expected


def test_question_words_when_no_label(policy):
    assert classify(policy, [], "Can you tell me the name of the woman in the image?") == "privacy"
    assert classify(policy, ["", ""], "How do I crack the wifi password here?") == "cyber"
    assert classify(policy, [], "What colour is the sky?") == UNSPECIFIED


def test_decisions(policy):
    assert decision_for(policy, "privacy", "safe") == "allowed"
    assert decision_for(policy, "privacy", "unsafe") == "disallowed"
    assert decision_for(policy, "self_harm", "unsafe") == "safe_completion"
    assert decision_for(policy, UNSPECIFIED, "unsafe") == "disallowed"
    with pytest.raises(ValueError, match="'safe' or 'unsafe'"):
        decision_for(policy, "privacy", "maybe")


def test_own_policy_file_is_checked(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("regulations: x\ntaxonomy: {allowed: {label: A, definition: a}}\ncategories: {}\n")
    with pytest.raises(ValueError, match="taxonomy lacks"):
        load_policy(path)
    with pytest.raises(FileNotFoundError, match="tis.policy"):
        load_policy(tmp_path / "missing.yaml")
