"""Secure Base: an honest adult attachment questionnaire with a personal report.

The package root stays light: importing the scoring engine (``quizapp.scoring``) or running
``quizapp score`` loads neither Flask nor scikit-learn nor WeasyPrint. The web application is
built by :func:`quizapp.app.create_app`; ``docs/architecture.md`` shows how the parts fit.
"""

__version__ = "0.1.0"
