# Broker unit tests (cmocka), linked against herald_broker_core.
herald_unit_test(history herald_broker_core)
herald_unit_test(presence herald_broker_core)
herald_unit_test(http_body herald_broker_core)
herald_unit_test(config herald_broker_core)
herald_unit_test(undelivered herald_broker_core)
herald_unit_test(http_check herald_broker_core)
herald_unit_test(store_lmdb herald_broker_core)
herald_unit_test(pair_fsm herald_broker_core)
