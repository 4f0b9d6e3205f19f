"""The interpretation on the results page, and the healing-step pages."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from .test_quiz import answers, start

ANXIOUS = [5, 1, 1, 5, 5, 1, 1, 5, 5, 1, 5, 5]  # q01..q12; q03, q04, q07, q08, q12 are reversed
ANXIETY_TRIGGERS = {
    "Fear of being left", "Worrying about how things stand", "Caring more than you get back",
    "Wanting a lot of closeness fast", "Dread of being on your own",
    "Needing reassurance again and again", "Upset by distance, pushing for proof",
    "Stung by signs of rejection",
}  # fmt: skip
AVOIDANT = [1, 5, 5, 1, 1, 5, 5, 1, 1, 5, 1, 1]


def result_page(client: FlaskClient, values: list[int]) -> str:
    response = client.post("/quiz/quick", data=start(client) | answers(values))
    assert response.status_code == 303
    result = response.headers["Location"].removesuffix("/more")  # an offered follow-up waits
    return client.get(result).get_data(as_text=True)


def test_results_show_triggers_with_their_reasons_and_ordered_steps(client: FlaskClient) -> None:
    html = result_page(client, ANXIOUS)
    assert "What stands out in your answers" in html
    shown = re.findall(r"<h3>([^<]+)</h3>\s*<p>You may", html)
    assert len(shown) == 3
    assert set(shown) <= ANXIETY_TRIGGERS
    assert "Because you answered <strong>“Strongly agree”</strong>" in html
    steps = re.findall(r'<a href="/steps/([a-z-]+)\?rank=\d">', html)
    assert len(steps) == 8 and len(set(steps)) == 8
    assert "On the full 36-statement questionnaire you would most likely score" in html
    assert "When to seek professional help" in html
    assert "THR-01" in html and "TRG-" in html


def test_different_answers_give_different_interpretations(client: FlaskClient) -> None:
    anxious, avoidant = result_page(client, ANXIOUS), result_page(client, AVOIDANT)
    linked = r'<a href="/steps/([a-z-]+)\?rank=\d">'
    steps = [re.findall(linked, page)[:3] for page in (anxious, avoidant)]
    assert steps[0] != steps[1]
    assert "Fear of being left" not in avoidant
    assert "Pulling back when someone gets close" in avoidant
    assert "Pulling back when someone gets close" not in anxious


def test_crisis_contacts_always_shown(client: FlaskClient, app: Flask) -> None:
    html = result_page(client, [3] * 12)
    for contact in app.config["CRISIS_CONTACTS"]:
        assert contact in html
    # The long advice folds away (issue 14, deliverable 2); the crisis contacts never do.
    help_section = html[html.index('id="help"') : html.index('class="why"')]
    assert help_section.index('class="crisis"') < help_section.index("<details")
    assert help_section.count('<details class="advice">') >= 1
    assert "You gave the same answer to every statement" in html


def test_every_step_has_its_own_page(client: FlaskClient, app: Flask) -> None:
    index = client.get("/steps/").get_data(as_text=True)
    for step in app.extensions["pipeline"].interpreter.content.steps:
        assert f"/steps/{step.id}" in index
        page = client.get(f"/steps/{step.id}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert step.title in html
        assert html.count("<li>") >= 3
    assert client.get("/steps/no-such-step").status_code == 404


def test_a_step_opened_from_a_result_says_its_place_and_leads_back(client: FlaskClient) -> None:
    # Issue 14, finding 10: the first step of a result said "Healing step 6 of 8" (its place
    # in the catalogue) and offered no way back to the result.
    html = result_page(client, ANXIOUS)
    result = re.search(r'href="(/r/[0-9A-Z]+)/delete"', html)
    first = re.search(r'<a href="(/steps/[a-z-]+\?rank=1)">', html)
    assert result is not None and first is not None
    page = client.get(first.group(1), headers={"Referer": f"http://localhost{result.group(1)}"})
    text = page.get_data(as_text=True)
    assert "Your healing step 1 of 8, in the order that fits your result" in text
    assert f'<a href="{result.group(1)}">Back to your result</a>' in text
    assert page.headers["Cache-Control"] == "no-store"  # it names the result's address
    plain = client.get(first.group(1).split("?")[0]).get_data(as_text=True)
    assert "One of the 8 healing steps" in plain and "Back to your result" not in plain
    elsewhere = client.get(first.group(1), headers={"Referer": "https://evil.example/r/X" * 2})
    assert "Back to your result" not in elsewhere.get_data(as_text=True)
