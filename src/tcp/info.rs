//! `TCP_INFO`: the fields of Linux's `struct tcp_info` a TCB can fill.

use super::Tcb;

/// `tcpi_ca_state` when no loss is being repaired (Linux's `TCP_CA_Open`).
const TCP_CA_OPEN: u8 = 0;
/// `tcpi_ca_state` in fast recovery (`TCP_CA_Recovery`).
const TCP_CA_RECOVERY: u8 = 3;
/// `tcpi_ca_state` after a retransmission timeout (`TCP_CA_Loss`).
const TCP_CA_LOSS: u8 = 4;
/// What `tcpi_snd_ssthresh` reports before any loss set a threshold
/// (Linux's `TCP_INFINITE_SSTHRESH`).
const TCP_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

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

impl Tcb {
    /// `TCP_INFO`.
    pub fn info(&self) -> TcpInfo {
        let mss = self.eff_mss().max(1);
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        TcpInfo {
            state: self.state.linux_code(),
            ca_state: if self.retransmits > 0 || self.recovery.in_loss {
                TCP_CA_LOSS
            } else if self.recovery.recover.is_some() {
                TCP_CA_RECOVERY
            } else {
                TCP_CA_OPEN
            },
            retransmits: u8::try_from(self.retransmits).unwrap_or(u8::MAX),
            backoff: u8::try_from(self.rtt.backoff).unwrap_or(u8::MAX),
            options: u8::from(self.ts_ok)
                | (u8::from(self.sack_ok) << 1)
                | (u8::from(self.snd_wscale > 0 || self.rcv_wscale > 0) << 2),
            snd_wscale: self.snd_wscale,
            rcv_wscale: self.rcv_wscale,
            rto: clamp(self.rtt.rto().as_micros() as u64),
            ato: clamp(self.ato().as_micros() as u64),
            snd_mss: mss,
            rcv_mss: self.rcv_mss,
            unacked: self.flight().div_ceil(mss),
            sacked: self.scoreboard.sacked_bytes().div_ceil(mss),
            lost: if self.retransmits > 0 {
                self.flight().div_ceil(mss)
            } else {
                0
            },
            retrans: u32::from(self.retransmits > 0 || self.recovery.recover.is_some()),
            rtt: clamp(self.rtt.srtt),
            rttvar: clamp(self.rtt.rttvar),
            // Before the first loss ssthresh is unbounded: Linux reports
            // TCP_INFINITE_SSTHRESH itself, not a quotient of it.
            snd_ssthresh: match self.cc.ssthresh() {
                u32::MAX => TCP_INFINITE_SSTHRESH,
                bytes => bytes
                    .checked_div(mss)
                    .unwrap_or(0)
                    .min(TCP_INFINITE_SSTHRESH),
            },
            snd_cwnd: self.cc.cwnd() / mss,
            advmss: u32::from(self.config.mss),
            rcv_space: self.rcv_wnd(),
            snd_wnd: self.snd_wnd,
            total_retrans: self.stats.total_retrans,
            bytes_acked: self.stats.bytes_acked,
            bytes_received: self.stats.bytes_received,
            segs_out: self.stats.segs_out,
            segs_in: self.stats.segs_in,
        }
    }
}
