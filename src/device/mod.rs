//! Devices: the TAP and the devices that wrap it (pcap, fault injection).

pub mod pcap;
