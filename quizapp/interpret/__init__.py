"""The interpretation layer: content as data, rule tables and the rule engine.

Plain Python: no Flask or SQLAlchemy. The scikit-learn layer (``quizapp.ml``) supplies model
outputs as facts; the rules decide what is said, and record why.
"""
