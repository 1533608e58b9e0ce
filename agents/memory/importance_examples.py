"""Labelled example memories: how important each is to the person, 1 (mundane) to 10 (life-changing).

Written for Agentville in the style its agents log (what they see people and
things doing, what they were told, their plans and thoughts), with most of the
mass low as in an ordinary life and a few rare big events. They serve twice
(``importance``): the model rates the calibration part at the start of a run,
to see whether its ratings follow the labels, and an estimator over their
embeddings rates memories when they do not. The held-out part is never trained
on; it measures the estimator.

The split is fixed: in each label's group, every third example is held out,
so both parts span the whole scale.
"""

from __future__ import annotations

EXAMPLES: tuple[tuple[int, str], ...] = (
    (1, "the stove is idle"),
    (1, "Tom Alvarez is brushing his teeth"),
    (1, "the coffee machine is brewing"),
    (1, "Nora Quinn is waking up and getting ready at her house"),
    (1, "Priya Shah is wrapping up: making the bed"),
    (1, "the refrigerator is idle"),
    (1, "Hector Diaz is waiting for the kettle to boil"),
    (1, "Lena Park is walking to the bathroom"),
    (1, "the bed is being used"),
    (1, "Grace Kim is getting started: taking a shower"),
    (2, "Isabella Rodriguez is serving coffee at the counter"),
    (2, "Omar Haddad is eating breakfast at the kitchen table"),
    (2, "Grace Kim is getting started: reading the morning paper"),
    (2, "Ben Carter is sweeping the shop floor"),
    (2, "Maya Singh is buying bread at the market"),
    (2, "Leo Ferris is having a coffee at the cafe"),
    (2, "the reading table in the library is in use"),
    (2, "Ivy Chen is jogging around the park"),
    (2, "Sam Ortega's plan for Tuesday: waking up at 07:00; working at the store at 09:00; lunch at 12:00; "
        "reading at 20:00"),
    (2, "Ruth Ellis is watering the plants on her balcony"),
    (2, "Tom Alvarez is wrapping up: answering emails at his desk"),
    (3, "Tom Alvarez told Nora Quinn: Tom thinks it might rain this afternoon"),
    (3, "Priya Shah and Ben Carter talked at the cafe: they chatted about the weather and the new pastries"),
    (3, "Grace Kim is studying for tomorrow's class"),
    (3, "Hector Diaz is repairing a squeaky door at the shop"),
    (3, "the cafe is busier than usual this morning"),
    (3, "Omar Haddad is shopping for a dinner with friends tonight"),
    (3, "After talking with Lena Park, Maya Singh means to try the new bakery on Main Street"),
    (3, "Leo Ferris finished painting the garden fence"),
    (3, "Ivy Chen told Ruth Ellis: Ivy is reading a long novel about sailors"),
    (4, "Ivy Chen told Sam Ortega: Ivy's sister is coming to visit next week"),
    (4, "Ruth Ellis is preparing a lesson on the history of the town"),
    (4, "Ben Carter noticed that the pharmacy closed early today"),
    (4, "Nora Quinn and Hector Diaz talked at the park: Hector has started training for a marathon"),
    (4, "Maya Singh got a warm compliment from a customer about her paintings"),
    (4, "Omar Haddad's landlord mentioned that the rent will go up next month"),
    (4, "Grace Kim forgot her keys and was locked out of her flat for an hour"),
    (5, "Sam Ortega is organising a birthday party for his mother on Saturday"),
    (5, "Tom Alvarez told Priya Shah: Tom is running for a seat on the town council"),
    (5, "Lena Park had an argument with her roommate about the dishes"),
    (5, "Leo Ferris finished the first draft of his novel"),
    (5, "Ruth Ellis learned that her old teacher is ill"),
    (5, "Isabella Rodriguez is planning a Valentine's Day party at the cafe and wants to invite everyone"),
    (6, "Ivy Chen was invited to a job interview at the newspaper"),
    (6, "Ben Carter's bicycle was stolen from outside the market"),
    (6, "Hector Diaz made up with his brother after a year of not speaking"),
    (6, "Nora Quinn realises she has been lonely since she moved to town"),
    (6, "the mayor announced that the town will elect a new mayor next month"),
    (7, "Omar Haddad asked Grace Kim out on a date and she said yes"),
    (7, "Priya Shah's grandmother was taken to hospital"),
    (7, "Sam Ortega won the town's poetry competition"),
    (7, "Tom Alvarez realises he wants to quit his job and open his own bakery"),
    (8, "Leo Ferris lost his job at the factory"),
    (8, "Ruth Ellis found out she is pregnant"),
    (8, "Hector Diaz and Maya Singh broke up after three years together"),
    (8, "Ivy Chen was accepted into medical school"),
    (9, "Ben Carter proposed to Nora Quinn and they are engaged"),
    (9, "a fire broke out in the kitchen of the cafe"),
    (9, "Grace Kim's father died last night"),
    (10, "Omar Haddad's house burned down and his family barely escaped"),
    (10, "Priya Shah gave birth to her first child"),
    (10, "Sam Ortega was badly hurt in a car accident and is in intensive care"),
)


def _split(held_out: bool) -> tuple[tuple[int, str], ...]:
    """Every third example of each label (the third, sixth...) is held out; the rest calibrate."""
    seen: dict[int, int] = {}
    chosen = []
    for label, text in EXAMPLES:
        seen[label] = seen.get(label, 0) + 1
        if (seen[label] % 3 == 0) == held_out:
            chosen.append((label, text))
    return tuple(chosen)


CALIBRATION = _split(held_out=False)
HELD_OUT = _split(held_out=True)
