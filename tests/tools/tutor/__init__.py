"""Tests of the tutor tools."""
