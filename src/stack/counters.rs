//! Counters, in the spirit of `netstat -s`: every frame the stack receives
//! is either handled or counted under the reason it was dropped.

use core::fmt;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Event and drop counters of one stack.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Counters {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Counters {
            /// Every counter with its name, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$( (stringify!($name), self.$name) ),*].into_iter()
            }
        }
    };
}

counters! {
    /// Frames received from the device.
    rx_frames,
    /// Frames sent to the device.
    tx_frames,
    /// Of `rx_frames`, those read by an application thread that waited on
    /// the TAP in a blocking call (`runtime::reader`), not by the stack
    /// thread.
    rx_frames_by_waiter,
    /// Frames shorter than an Ethernet header.
    drop_eth_truncated,
    /// Frames addressed to another MAC.
    drop_eth_not_for_us,
    /// Frames with an EtherType we do not speak (LLDP...).
    drop_eth_unknown_type,
    /// ARP packets received and handled.
    arp_rx,
    /// ARP packets that were truncated, malformed or not Ethernet/IPv4.
    drop_arp_malformed,
    /// ARP requests for another address.
    drop_arp_not_for_us,
    /// ARP requests sent (resolution, retries, announcements).
    arp_tx_requests,
    /// ARP replies sent.
    arp_tx_replies,
    /// Resolutions that gave up after the last retry.
    arp_failed,
    /// Packets dropped because the queue waiting for a resolution was full.
    drop_arp_queue_full,
    /// IPv4 datagrams received (fragments counted once each).
    ip_rx,
    /// IPv4 packets with a truncated header or a total length past the frame.
    drop_ip_truncated,
    /// IPv4 packets with a bad version, header length or fragment bounds.
    drop_ip_malformed,
    /// IPv4 packets with a bad header checksum.
    drop_ip_checksum,
    /// IPv4 packets for another address.
    drop_ip_not_for_us,
    /// IPv4 packets from a source that cannot be a host (broadcast, multicast, ours).
    drop_ip_bad_source,
    /// Fragments received.
    ip_frag_rx,
    /// Datagrams reassembled.
    ip_reassembled,
    /// Fragments dropped (overlap, memory limit, bad length).
    drop_ip_frag,
    /// Reassemblies that timed out.
    ip_reasm_timeout,
    /// Datagrams sent.
    ip_tx,
    /// Datagrams to this host, delivered without the device.
    loopback_tx,
    /// Loopback datagrams dropped because too many were waiting.
    drop_loopback_full,
    /// Fragments sent.
    ip_frag_tx,
    /// Datagrams of a protocol we do not speak.
    drop_ip_unknown_protocol,
    /// ICMP messages received.
    icmp_rx,
    /// ICMP messages with a bad checksum or length.
    drop_icmp_malformed,
    /// ICMP messages of a kind we ignore.
    drop_icmp_unsupported,
    /// ICMP echo replies sent.
    icmp_tx_echo_reply,
    /// ICMP destination unreachable messages sent.
    icmp_tx_unreachable,
    /// ICMP errors not sent because of the rate limit.
    icmp_rate_limited,
    /// ICMP errors delivered to a TCP connection.
    icmp_errors_to_tcp,
    /// ICMP errors naming a TCP connection but quoting a sequence number
    /// outside SND.UNA..=SND.NXT, ignored (RFC 5927 §4.1; Linux's
    /// `OutOfWindowIcmps`).
    icmp_tcp_out_of_window,
    /// TCP segments received.
    tcp_rx,
    /// TCP segments with a bad checksum or header.
    drop_tcp_malformed,
    /// TCP segments sent.
    tcp_tx,
    /// RSTs sent for segments that matched no connection.
    tcp_tx_rst_no_socket,
    /// SYN-ACKs sent with a SYN cookie because a listener's SYN queue was
    /// full (Linux `SyncookiesSent`).
    tcp_syncookies_sent,
    /// ACKs to a listener that returned a valid SYN cookie (Linux
    /// `SyncookiesRecv`).
    tcp_syncookies_validated,
    /// ACKs to a listener that carried no valid SYN cookie while cookies
    /// were being checked (within a cookie's lifetime of a SYN-queue
    /// overflow), answered with a RST (Linux `SyncookiesFailed`).
    tcp_syncookies_failed,
    /// SYNs, and ACKs that would complete a handshake, dropped because a
    /// listener's accept queue was full (Linux `ListenOverflows`).
    tcp_accept_queue_overflow,
    /// Segments larger than the MTU that a TCB produced (a bug; dropped).
    tcp_tx_oversize,
    /// Connections dropped on entering TIME-WAIT because the most allowed
    /// were already there (Linux: "time wait bucket table overflow").
    tcp_time_wait_overflow,
    /// SYNs that ended a connection in TIME-WAIT to open a new incarnation
    /// of it (RFC 6191; Linux's `TCP_TW_SYN`).
    tcp_time_wait_reopened,
    /// Bare ACKs ignored because the listener defers accepting until data
    /// arrives (`TCP_DEFER_ACCEPT`; Linux's `TCPDeferAcceptDrop`).
    tcp_defer_accept_drop,
    /// Challenge ACKs sent (RFC 5961 §3.2, §4.2, §5.2; Linux
    /// `TCPChallengeACK`).
    tcp_challenge_acks,
    /// Challenge ACKs not sent because the connection sent one less than
    /// 500 ms before (Linux `TCPACKSkippedChallenge`).
    tcp_challenge_ack_limited_conn,
    /// Challenge ACKs not sent because the host's budget for the second
    /// was spent (RFC 5961 §7; Linux `tcp_challenge_ack_limit`).
    tcp_challenge_ack_limited_host,
    /// ACKs to out-of-window or PAWS-failing segments not sent because the
    /// connection sent one less than 500 ms before (Linux
    /// `TCPACKSkippedSeq`, `TCPACKSkippedPAWS`).
    tcp_oow_ack_limited,
    /// Connections opened actively (connect).
    tcp_active_opens,
    /// Connections opened passively (accept).
    tcp_passive_opens,
    /// IPv6 packets received for us (fragments counted once each).
    ip6_rx,
    /// IPv6 packets shorter than their header or payload length.
    drop_ip6_truncated,
    /// IPv6 packets with a bad version or a multicast source.
    drop_ip6_malformed,
    /// IPv6 packets for an address or group that is not ours.
    drop_ip6_not_for_us,
    /// IPv6 packets from a source that cannot be a neighbour (ours,
    /// loopback, IPv4-mapped).
    drop_ip6_bad_source,
    /// IPv6 packets whose extension headers were truncated, too many, or
    /// not processable (a Parameter Problem may have been sent).
    drop_ip6_ext_header,
    /// IPv6 fragments received.
    ip6_frag_rx,
    /// IPv6 packets reassembled.
    ip6_reassembled,
    /// IPv6 fragments dropped (overlap, memory limit, bad length).
    drop_ip6_frag,
    /// IPv6 reassemblies that timed out (RFC 8200 §4.5: 60 s).
    ip6_reasm_timeout,
    /// IPv6 packets with No Next Header (59).
    drop_ip6_no_next_header,
    /// IPv6 packets of an upper layer we do not know (Parameter Problem).
    drop_ip6_unknown_next_header,
    /// IPv6 TCP or UDP packets: no port serves them (port unreachable).
    drop_ip6_no_port,
    /// IPv6 packets sent.
    ip6_tx,
    /// IPv6 fragments sent.
    ip6_frag_tx,
    /// ICMPv6 messages received and handled.
    icmp6_rx,
    /// ICMPv6 messages with a bad checksum, length or NDP field.
    drop_icmp6_malformed,
    /// ICMPv6 messages of a type we ignore.
    drop_icmp6_unsupported,
    /// Neighbor Discovery messages with a hop limit other than 255.
    drop_ndisc_bad_hop_limit,
    /// Neighbor Solicitations for an address that is not ours.
    drop_ndisc_not_for_us,
    /// ICMPv6 echo replies sent.
    icmp6_tx_echo_reply,
    /// ICMPv6 errors sent (unreachable, parameter problem, time exceeded).
    icmp6_tx_errors,
    /// ICMPv6 errors not sent because of the rate limit.
    icmp6_rate_limited,
    /// Packet Too Big messages received.
    icmp6_rx_packet_too_big,
    /// Neighbor Solicitations sent.
    nd_tx_solicits,
    /// Neighbor Advertisements sent.
    nd_tx_adverts,
    /// Neighbor Advertisements from another host for one of our addresses.
    nd_rx_duplicate,
    /// IPv6 resolutions that gave up after the last solicitation.
    nd_failed,
    /// IPv6 packets dropped because the queue waiting for a resolution was
    /// full.
    drop_nd_queue_full,
}

impl Counters {
    /// Frames dropped at any layer, for accounting tests.
    pub fn dropped(&self) -> u64 {
        self.iter()
            .filter(|(name, _)| name.starts_with("drop_"))
            .map(|(_, v)| v)
            .sum()
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, v) in self.iter() {
            writeln!(f, "{name:>32} {v}")?;
        }
        Ok(())
    }
}
