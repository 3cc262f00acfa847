session-agent
        hostname                                172.26.50.140    
        ip-address                              172.26.50.140
        port                                    5060
        state                                   enabled
        app-protocol                            SIP
        realm-id                                Core-vsi
        description                             "Core VSI-brisanet"
        ping-method                             OPTIONS
        ping-interval                           30