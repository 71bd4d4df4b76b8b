"""The release procedure: ``make release VERSION=x.y.z`` (dry run), ``APPLY=1`` to do it.

One version, written everywhere it appears (:mod:`scripts.release.versions`), the
CHANGELOG's ``[Unreleased]`` section cut into a dated one
(:mod:`scripts.release.changelog`), then one commit and an annotated tag ``vX.Y.Z``
(:mod:`scripts.release.git`). docs/operations/releasing.md describes it for people.
"""
