"""The personal PDF report: plain data for a template, HTML, and HTML to a tagged PDF.

Three steps, each a function: :func:`quizapp.reports.data.report_data` turns the domain
objects into plain data (no ORM objects, no dataclasses), :func:`quizapp.reports.render.render_html`
fills a template with it, and :func:`quizapp.reports.render.html_to_pdf` lays it out with
WeasyPrint, whose URL fetcher serves nothing but the report templates folder. ``options``
names the report kinds and page sizes, ``charts`` draws the quadrant map, ``clinical`` and
``therapist_content`` add the therapist report's parts. Only ``render`` loads WeasyPrint.
"""
