"""Industry packs (产业包): an industry's characteristics as data, not code.

Public interface: ``chanlian.industry.packs`` (dataclasses, ``get_pack``, ``all_packs``, ``load_pack_file``)
and ``chanlian.industry.spec`` (``validate_spec``, ``match_spec``, ``spec_matches``). See
``docs/industry-packs.md``.
"""
