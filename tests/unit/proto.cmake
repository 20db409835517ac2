# proto's unit tests (tests/unit/test_<module>.c), one ctest case each.
herald_unit_test(buf herald_proto)
herald_unit_test(wire herald_proto)
herald_unit_test(topic herald_proto)
herald_unit_test(json herald_proto PkgConfig::JANSSON)
herald_unit_test(envelope herald_proto)
herald_unit_test(frame herald_proto)
herald_unit_test(control herald_proto)
herald_unit_test(curve herald_curve)
