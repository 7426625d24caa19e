//! One TCB driven segment by segment (in `open`, `established`, `close`
//! and `timers`, with the `harness`): one test per transition of the
//! RFC 9293 state diagram (§3.3.2, Figure 5) and per acceptance rule.
//!
//! | From         | Event                                  | To           | Test |
//! |--------------|----------------------------------------|--------------|------|
//! | CLOSED       | connect (send SYN)                     | SYN-SENT     | `connect_sends_syn_with_our_options` |
//! | LISTEN       | SYN (send SYN-ACK)                     | SYN-RECEIVED | `accept_syn_sends_syn_ack` |
//! | LISTEN       | not a plain SYN                        | (none)       | `accept_syn_refuses_non_syn` |
//! | SYN-SENT     | SYN-ACK (send ACK)                     | ESTABLISHED  | `syn_sent_syn_ack_goes_established` |
//! | SYN-SENT     | SYN (send SYN-ACK): simultaneous open  | SYN-RECEIVED | `syn_sent_syn_goes_syn_received` |
//! | SYN-SENT     | RST with acceptable ACK                | CLOSED       | `syn_sent_rst_refuses` |
//! | SYN-SENT     | RST without ACK                        | SYN-SENT     | `syn_sent_rst_without_ack_is_ignored` |
//! | SYN-SENT     | unacceptable ACK (send RST)            | SYN-SENT     | `syn_sent_bad_ack_sends_rst` |
//! | SYN-SENT     | SYN retries exhausted                  | CLOSED       | `syn_sent_retries_exhausted_times_out` |
//! | SYN-SENT     | ICMP unreachable                       | CLOSED       | `syn_sent_unreachable_fails` |
//! | SYN-SENT     | close                                  | CLOSED       | `syn_sent_close_goes_closed` |
//! | SYN-RECEIVED | ACK of SYN                             | ESTABLISHED  | `syn_received_ack_goes_established` |
//! | SYN-RECEIVED | ACK too high (send RST)                | SYN-RECEIVED | `syn_received_ack_too_high_sends_rst` |
//! | SYN-RECEIVED | RST                                    | CLOSED       | `syn_received_rst_closes` |
//! | SYN-RECEIVED | retransmitted SYN (resend SYN-ACK)     | SYN-RECEIVED | `syn_received_retransmitted_syn_resends_syn_ack` |
//! | SYN-RECEIVED | close, then ACK (send FIN)             | FIN-WAIT-1   | `syn_received_close_then_ack_goes_fin_wait_1` |
//! | SYN-RECEIVED | simultaneous open completes            | ESTABLISHED  | `simultaneous_open_completes` |
//! | ESTABLISHED  | close (send FIN)                       | FIN-WAIT-1   | `established_close_goes_fin_wait_1` |
//! | ESTABLISHED  | FIN (send ACK)                         | CLOSE-WAIT   | `established_fin_goes_close_wait` |
//! | ESTABLISHED  | RST at RCV.NXT                         | CLOSED       | `established_rst_exact_resets` |
//! | ESTABLISHED  | abort (send RST)                       | CLOSED       | `established_abort_sends_rst` |
//! | ESTABLISHED  | close with unread data (send RST)      | CLOSED       | `close_with_unread_data_sends_rst` |
//! | ESTABLISHED  | retries exhausted                      | CLOSED       | `established_retries_exhausted_times_out` |
//! | FIN-WAIT-1   | ACK of FIN                             | FIN-WAIT-2   | `fin_wait_1_ack_goes_fin_wait_2` |
//! | FIN-WAIT-1   | FIN (send ACK)                         | CLOSING      | `fin_wait_1_fin_goes_closing` |
//! | FIN-WAIT-1   | FIN+ACK together                       | TIME-WAIT    | `fin_wait_1_fin_ack_together_goes_time_wait` |
//! | FIN-WAIT-2   | FIN (send ACK)                         | TIME-WAIT    | `fin_wait_2_fin_goes_time_wait` |
//! | FIN-WAIT-2   | data (half-close keeps receiving)      | FIN-WAIT-2   | `fin_wait_2_still_receives_data` |
//! | FIN-WAIT-2   | orphan timeout after close             | CLOSED       | `orphaned_fin_wait_2_times_out` |
//! | SYN-RECEIVED | SYN-ACK retries exhausted              | CLOSED       | `syn_received_synack_retries_exhausted` |
//! | ESTABLISHED  | keepalive probes unanswered            | CLOSED       | `keepalive_probes_then_times_out` |
//! | CLOSE-WAIT   | close (send FIN)                       | LAST-ACK     | `close_wait_close_goes_last_ack` |
//! | CLOSING      | ACK of FIN                             | TIME-WAIT    | `closing_ack_goes_time_wait` |
//! | LAST-ACK     | ACK of FIN                             | CLOSED       | `last_ack_ack_goes_closed` |
//! | TIME-WAIT    | 2 MSL timeout                          | CLOSED       | `time_wait_expires_to_closed` |
//! | TIME-WAIT    | retransmitted FIN (ACK, restart)       | TIME-WAIT    | `time_wait_retransmitted_fin_restarts_timer` |
//! | TIME-WAIT    | SYN past RCV.NXT or with a newer TSval (RFC 6191) | CLOSED; the listener opens SYN-RECEIVED | `time_wait_takes_a_new_syn_only_past_rcv_nxt`, `stack::tests_tcp::syn_reopens_a_connection_in_time_wait` |
//!
//! Acceptance rules (RFC 9293 §3.10.7.4, RFC 5961, RFC 7323):
//!
//! | Rule                                             | Test |
//! |--------------------------------------------------|------|
//! | unacceptable sequence number → ACK, drop         | `unacceptable_segment_is_acked_and_dropped` |
//! | zero window: ACK still processed, data dropped   | `zero_window_still_processes_ack` |
//! | in-window RST not at RCV.NXT → challenge ACK     | `established_rst_in_window_sends_challenge_ack` |
//! | out-of-window RST → ignored                      | `established_rst_out_of_window_is_ignored` |
//! | SYN in synchronized state → challenge ACK        | `established_syn_sends_challenge_ack` |
//! | ACK beyond SND.NXT → ACK, drop                   | `established_ack_beyond_snd_nxt_is_dropped` |
//! | ACK older than SND.UNA − MAX.SND.WND → challenge | `established_ack_too_old_sends_challenge_ack` |
//! | segment without ACK → drop                       | `segment_without_ack_is_dropped` |
//! | PAWS: old TSval → ACK, drop                      | `paws_drops_old_timestamp` |
//! | out-of-order data → quick ACK with SACK          | `out_of_order_data_is_sacked_and_reassembled` |
//! | no connection → RST per §3.10.7.1                | `rst_for_answers_per_rfc` |
//!
//! Sending and timers (in `timers` and `established`):
//!
//! | Behaviour                                              | Test |
//! |--------------------------------------------------------|------|
//! | RTO doubles up to rto_max, 15 retries then ETIMEDOUT   | `established_retries_exhausted_times_out` |
//! | SYN retried 6 times (1+2+…+64 s) then ETIMEDOUT        | `syn_sent_retries_exhausted_times_out` |
//! | fast retransmit, NewReno partial and full ACK          | `fast_retransmit_after_three_dup_acks` |
//! | SACK recovery retransmits each hole (RFC 6675)         | `sack_recovery_retransmits_each_hole` |
//! | tail loss probe at PTO: last segment again, one per tail | `tail_loss_probe_resends_the_last_segment_once` |
//! | tail loss probe sends new data when the window allows  | `tail_loss_probe_sends_new_data_when_the_window_allows` |
//! | RACK: lost after RACK.rtt + reo_wnd, 2 segments flying | `rack_retransmits_with_two_segments_in_flight` |
//! | tail losses repaired without RTOs (sim, virtual time)  | `sim_tail_losses_are_repaired_without_timeouts` |
//! | zero-window probe, then data when the window opens     | `zero_window_is_probed` |
//! | a closed window is not a loss (no timeout)             | `closed_window_with_data_in_flight_does_not_time_out` |
//! | quick ACKs at start, then delayed ACK after ato        | `delayed_ack_after_quick_acks` |
//! | a request's quick ACK rides on the answer; goes when `recv` finds nothing, or after ato | `a_quick_ack_for_a_request_rides_on_the_answer`, `a_held_quick_ack_goes_when_the_application_finds_nothing_more`, `a_held_quick_ack_goes_after_ato_at_the_latest` |
//! | the peer's FIN acknowledged after ato unless our FIN carries it | `a_fin_is_acknowledged_after_ato_when_nothing_of_ours_carries_it` |
//! | ACK every second full-sized segment                    | `every_second_full_segment_is_acked` |
//! | Nagle; TCP_NODELAY; TCP_CORK                           | `nagle_holds_small_segments_until_acked`, `nodelay_sends_small_segments_at_once`, `cork_holds_partial_segments` |
//! | receiver SWS avoidance and window updates              | `receiver_avoids_silly_window_updates` |
//! | window scale negotiated and applied                    | `window_scale_is_negotiated_and_applied` |
//! | SACK blocks count against the MSS                      | `sack_blocks_take_room_from_data` |
//! | 64 KiB segment accepted                                | `large_segment_of_64k_is_accepted` |
//! | random segments in every state never panic             | `garbage_segments_never_panic` |
