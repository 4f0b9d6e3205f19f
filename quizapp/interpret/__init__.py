"""The interpretation layer: content as data, rule tables and the rule engine.

``content`` loads what the results say (triggers, strengths, healing steps, advice,
cautions) from ``content/``; ``rules`` loads and evaluates the rule table in
``rules/interpretation.toml``; ``interpretation`` turns a person's answers, scores and model
outputs into what is said and the rule ids behind it; ``validity`` supplies the facts about
careless answering. Plain Python: no Flask or SQLAlchemy. The scikit-learn layer
(``quizapp.ml``) supplies model outputs as facts; the rules decide what is said, and record why.
"""
