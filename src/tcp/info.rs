//! `TCP_INFO`: the fields of Linux's `struct tcp_info` a TCB can fill.

/// `tcpi_ca_state` when no loss is being repaired (Linux's `TCP_CA_Open`).
pub(super) const TCP_CA_OPEN: u8 = 0;
/// `tcpi_ca_state` in fast recovery (`TCP_CA_Recovery`).
pub(super) const TCP_CA_RECOVERY: u8 = 3;
/// `tcpi_ca_state` after a retransmission timeout (`TCP_CA_Loss`).
pub(super) const TCP_CA_LOSS: u8 = 4;
/// What `tcpi_snd_ssthresh` reports before any loss set a threshold
/// (Linux's `TCP_INFINITE_SSTHRESH`).
pub(super) const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// A snapshot like Linux's `struct tcp_info` (`include/uapi/linux/tcp.h`).
/// Times are in microseconds, windows in segments where Linux uses segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// `tcpi_state`: Linux's state number.
    pub state: u8,
    /// `tcpi_ca_state`: 0 open, 3 recovery, 4 loss.
    pub ca_state: u8,
    /// `tcpi_retransmits`: consecutive retransmissions of the head.
    pub retransmits: u8,
    /// `tcpi_backoff`.
    pub backoff: u8,
    /// `tcpi_options`: 1 timestamps, 2 SACK, 4 window scale.
    pub options: u8,
    /// `tcpi_snd_wscale`.
    pub snd_wscale: u8,
    /// `tcpi_rcv_wscale`.
    pub rcv_wscale: u8,
    /// `tcpi_rto`, µs.
    pub rto: u32,
    /// `tcpi_ato`, µs.
    pub ato: u32,
    /// `tcpi_snd_mss`.
    pub snd_mss: u32,
    /// `tcpi_rcv_mss`.
    pub rcv_mss: u32,
    /// `tcpi_unacked`: segments in flight.
    pub unacked: u32,
    /// `tcpi_sacked`: segments the peer SACKed.
    pub sacked: u32,
    /// `tcpi_lost`.
    pub lost: u32,
    /// `tcpi_retrans`: segments retransmitted and not yet acked.
    pub retrans: u32,
    /// `tcpi_rtt`, µs.
    pub rtt: u32,
    /// `tcpi_rttvar`, µs.
    pub rttvar: u32,
    /// `tcpi_snd_ssthresh`, segments.
    pub snd_ssthresh: u32,
    /// `tcpi_snd_cwnd`, segments.
    pub snd_cwnd: u32,
    /// `tcpi_advmss`.
    pub advmss: u32,
    /// `tcpi_rcv_space`: our receive window, bytes.
    pub rcv_space: u32,
    /// `tcpi_snd_wnd`: the peer's window, bytes.
    pub snd_wnd: u32,
    /// `tcpi_total_retrans`.
    pub total_retrans: u32,
    /// `tcpi_bytes_acked`.
    pub bytes_acked: u64,
    /// `tcpi_bytes_received`.
    pub bytes_received: u64,
    /// `tcpi_segs_out`.
    pub segs_out: u32,
    /// `tcpi_segs_in`.
    pub segs_in: u32,
}
