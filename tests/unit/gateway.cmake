# gateway unit tests (cmocka): modules of herald_gateway_core that run without a network.
herald_unit_test(gateway_queue herald_gateway_core)
herald_unit_test(gateway_auth herald_gateway_core)
herald_unit_test(gateway_config herald_gateway_core)
herald_unit_test(gateway_seen herald_gateway_core)
herald_unit_test(gateway_failover herald_gateway_core)
herald_unit_test(gateway_client_frame herald_gateway_core)
