//! Channel over pipes and sockets: the seed suite's behaviour, in Rust.

mod util;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use procloop::testing::TestChannel;
use procloop::{Channel, Error};
use util::*;

fn pipe_channel() -> (Channel, std::io::PipeWriter) {
    let (read, write) = std::io::pipe().unwrap();
    (Channel::from_pipe(Some(read.into()), None).unwrap(), write)
}

fn socket_pair() -> (Channel, Channel) {
    let (a, b) = UnixStream::pair().unwrap();
    (Channel::from_unix(a).unwrap(), Channel::from_unix(b).unwrap())
}

#[test]
fn pipe_read_returns_written_bytes_then_empty() {
    init();
    let (mut channel, mut writer) = pipe_channel();
    writer.write_all(b"test").unwrap();
    assert_eq!(read_some(&mut channel).unwrap(), b"test");
    assert_eq!(channel.read().unwrap(), b"");
}

#[test]
fn pipe_write_and_write_chunks() {
    let (read, write) = std::io::pipe().unwrap();
    let mut reader = Channel::from_pipe(Some(read.into()), None).unwrap();
    let mut writer = Channel::from_pipe(None, Some(write.into())).unwrap();
    writer.write(b"test").unwrap();
    writer.write_chunks(&[b"123", b"abc", b""]).unwrap();
    assert_eq!(read_exactly(&mut reader, 10), b"test123abc");
}

#[test]
fn pipe_read_after_writer_closed_gives_data_then_endpoint_closed() {
    let (mut channel, mut writer) = pipe_channel();
    writer.write_all(b"last").unwrap();
    drop(writer);
    assert_eq!(read_some(&mut channel).unwrap(), b"last");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)), "and stays closed");
}

#[test]
fn pipe_write_to_gone_reader_is_endpoint_closed() {
    let (read, write) = std::io::pipe().unwrap();
    drop(read);
    let mut writer = Channel::from_pipe(None, Some(write.into())).unwrap();
    assert!(matches!(writer.write(b"x"), Err(Error::EndpointClosed)));
}

#[test]
fn read_fd_of_read_channel_and_write_only_channel() {
    let (read, write) = std::io::pipe().unwrap();
    let read: OwnedFd = read.into();
    let raw = read.as_raw_fd();
    let reader = Channel::from_pipe(Some(read), None).unwrap();
    assert_eq!(reader.read_fd().map(|fd| fd.as_raw_fd()), Some(raw));
    let writer = Channel::from_pipe(None, Some(write.into())).unwrap();
    assert!(writer.read_fd().is_none());
}

#[test]
fn write_only_channel_read_is_endpoint_closed() {
    let (_read, write) = std::io::pipe().unwrap();
    let mut writer = Channel::from_pipe(None, Some(write.into())).unwrap();
    assert!(matches!(writer.read(), Err(Error::EndpointClosed)));
}

#[test]
fn socket_read_write_and_chunks() {
    let (mut a, mut b) = socket_pair();
    a.write(b"test").unwrap();
    assert_eq!(read_some(&mut b).unwrap(), b"test");
    assert_eq!(b.read().unwrap(), b"");
    b.write_chunks(&[b"1", b"2", b"3"]).unwrap();
    assert_eq!(read_exactly(&mut a, 3), b"123");
}

#[test]
fn socket_read_after_peer_closed() {
    let (mut a, mut b) = socket_pair();
    a.write(b"bye").unwrap();
    a.close();
    assert_eq!(read_some(&mut b).unwrap(), b"bye");
    assert!(matches!(b.read(), Err(Error::EndpointClosed)));
    assert!(matches!(b.write(b"x"), Err(Error::EndpointClosed)));
}

#[test]
fn read_fd_of_a_socket_channel_is_the_socket() {
    let (a, _b) = UnixStream::pair().unwrap();
    let raw = a.as_raw_fd();
    let mut channel = Channel::from_unix(a).unwrap();
    assert_eq!(channel.read_fd().map(|fd| fd.as_raw_fd()), Some(raw));
    channel.close();
    assert!(channel.read_fd().is_none());
}

#[test]
fn tcp_channel_round_trip() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let (mut a, mut b) = (Channel::from_tcp(client).unwrap(), Channel::from_tcp(server).unwrap());
    a.write(b"over tcp").unwrap();
    assert_eq!(read_exactly(&mut b, 8), b"over tcp");
}

#[test]
fn line_mode_one_line() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered();
    a.write(b"line\n").unwrap();
    assert_eq!(read_some(&mut b).unwrap(), b"line\n");
}

#[test]
fn line_mode_partial_line_is_not_returned() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered();
    a.write(b"partial").unwrap();
    // The bytes are there (the fd polls readable), yet no line is.
    let mut fds = [nix::poll::PollFd::new(b.read_fd().unwrap(), nix::poll::PollFlags::POLLIN)];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap();
    assert_eq!(b.read().unwrap(), b"");
    assert_eq!(b.buffered(), 7);
}

#[test]
fn line_mode_line_completed_in_two_writes() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered();
    a.write(b"hel").unwrap();
    assert_eq!(b.read().unwrap(), b"");
    a.write(b"lo\n").unwrap();
    assert_eq!(read_some(&mut b).unwrap(), b"hello\n");
}

#[test]
fn line_mode_two_lines_in_one_write_come_one_at_a_time() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered();
    a.write(b"one\ntwo\n").unwrap();
    assert_eq!(read_some(&mut b).unwrap(), b"one\n");
    assert_eq!(b.read().unwrap(), b"two\n");
    assert_eq!(b.read().unwrap(), b"");
}

#[test]
fn line_mode_last_line_without_newline_at_end_of_stream() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered();
    a.write(b"one\nlast").unwrap();
    a.close();
    assert_eq!(read_some(&mut b).unwrap(), b"one\n");
    assert_eq!(read_some(&mut b).unwrap(), b"last");
    assert!(matches!(b.read(), Err(Error::EndpointClosed)));
}

#[test]
fn line_longer_than_buffer_comes_in_buffer_sized_pieces() {
    let (mut a, b) = socket_pair();
    let mut b = b.line_buffered().with_input_capacity(4);
    a.write(b"abcdefghij\n").unwrap();
    assert_eq!(read_some(&mut b).unwrap(), b"abcd");
    assert_eq!(read_some(&mut b).unwrap(), b"efgh");
    assert_eq!(read_some(&mut b).unwrap(), b"ij\n");
}

#[test]
fn full_write_queue_is_an_error_that_takes_nothing() {
    let (mut a, mut b) = socket_pair();
    a = a.with_write_queue_limit(1024);
    // Fill the socket buffer, then the queue, while nobody reads.
    let chunk = vec![7u8; 512];
    let mut accepted = 0;
    let err = loop {
        match a.write(&chunk) {
            Ok(()) => accepted += chunk.len(),
            Err(e) => break e,
        }
    };
    match err {
        Error::QueueFull { queued, requested, limit, .. } => {
            assert_eq!((requested, limit), (512, 1024));
            assert!(queued > 512);
        }
        other => panic!("expected QueueFull, got {other}"),
    }
    assert!(err_message_names_queue(&a));
    // Nothing of the refused write was taken: exactly `accepted` bytes arrive.
    let mut got = 0;
    while got < accepted {
        got += read_some(&mut b).unwrap().len();
        a.flush().unwrap();
    }
    assert_eq!(got, accepted);
    assert_eq!(b.read().unwrap(), b"");
}

fn err_message_names_queue(channel: &Channel) -> bool {
    let e = Error::QueueFull { alias: None, queued: channel.queued(), requested: 1, limit: 1024 };
    e.to_string().contains("write queue full")
}

#[test]
fn queued_bytes_keep_their_order() {
    let (a, mut b) = socket_pair();
    let mut a = a.with_write_queue_limit(64 << 20);
    let data = random_bytes(4 << 20, 1);
    for chunk in data.chunks(100_000) {
        a.write(chunk).unwrap();
    }
    assert!(a.queued() > 0, "the socket buffer cannot hold 4 MiB");
    let mut got = Vec::new();
    while got.len() < data.len() {
        got.extend(read_some(&mut b).unwrap());
        a.flush().unwrap();
    }
    assert!(got == data);
}

#[test]
fn close_write_half_closes_and_reading_goes_on() {
    let (mut a, mut b) = socket_pair();
    a.write(b"request").unwrap();
    a.close_write();
    assert_eq!(read_to_end(&mut b), b"request");
    b.write(b"reply").unwrap();
    assert_eq!(read_some(&mut a).unwrap(), b"reply");
    assert!(matches!(a.write(b"x"), Err(Error::EndpointClosed)));
}

#[test]
fn close_write_on_pipe_gives_reader_eof() {
    let (read, write) = std::io::pipe().unwrap();
    let mut reader = Channel::from_pipe(Some(read.into()), None).unwrap();
    let mut writer = Channel::from_pipe(None, Some(write.into())).unwrap();
    writer.write(b"end").unwrap();
    writer.close_write();
    assert_eq!(read_to_end(&mut reader), b"end");
}

#[test]
fn test_channel_put_get_and_read_fd() {
    let (mut channel, mut test) = TestChannel::pair();
    test.put(b"in");
    assert_eq!(read_some(&mut channel).unwrap(), b"in");
    channel.write(b"out").unwrap();
    assert_eq!(test.get(), b"out");
    assert_eq!(test.get(), b"", "get never blocks");
    assert!(channel.read_fd().is_some());
    test.close();
    assert!(matches!(read_some(&mut channel), Err(Error::EndpointClosed)));
}

#[test]
fn lowering_the_queue_limit_keeps_what_is_queued() {
    let (a, mut b) = socket_pair();
    let mut a = a.with_write_queue_limit(8 << 20);
    let data = random_bytes(2 << 20, 9);
    a.write(&data).unwrap();
    let queued = a.queued();
    assert!(queued > 0, "the socket buffer cannot hold 2 MiB");
    let mut a = a.with_write_queue_limit(1);
    assert_eq!(a.queued(), queued, "nothing dropped");
    assert!(matches!(a.write(b"more"), Err(Error::QueueFull { .. })));
    let mut got = Vec::new();
    while got.len() < data.len() {
        got.extend(read_some(&mut b).unwrap());
        a.flush().unwrap();
    }
    assert!(got == data);
}

#[test]
fn line_mode_last_line_comes_in_the_read_that_finds_the_end_of_stream() {
    let (read, mut write) = std::io::pipe().unwrap();
    let mut channel = Channel::from_pipe(Some(read.into()), None).unwrap().line_buffered();
    write.write_all(b"test").unwrap();
    drop(write);
    assert_eq!(channel.read().unwrap(), b"test", "not one call later");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
}

#[test]
fn line_mode_half_a_line_from_a_live_writer_stays_buffered() {
    let (read, mut write) = std::io::pipe().unwrap();
    let mut channel = Channel::from_pipe(Some(read.into()), None).unwrap().line_buffered();
    write.write_all(b"te").unwrap();
    assert_eq!(channel.read().unwrap(), b"");
    assert_eq!(channel.buffered(), 2);
    write.write_all(b"st\n").unwrap();
    assert_eq!(channel.read().unwrap(), b"test\n");
}

#[test]
fn after_close_buffered_lines_are_still_read_then_endpoint_closed() {
    let (channel, mut peer) = TestChannel::pair();
    let mut channel = channel.line_buffered();
    peer.put(b"one\ntwo\nthr");
    assert_eq!(read_some(&mut channel).unwrap(), b"one\n");
    // The rest came with the same read(2), unless the kernel split it.
    let buffered = channel.buffered();
    channel.close();
    let mut rest = Vec::new();
    loop {
        match channel.read() {
            Ok(piece) => {
                assert!(!piece.is_empty(), "a closed channel never says 'nothing for now'");
                rest.push(piece);
            }
            Err(Error::EndpointClosed) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(rest.iter().map(Vec::len).sum::<usize>(), buffered);
    if buffered == 7 {
        assert_eq!(rest, [b"two\n".to_vec(), b"thr".to_vec()]);
    }
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)), "and stays closed");
    assert!(matches!(channel.write(b"x"), Err(Error::EndpointClosed)));
}

#[test]
fn after_close_a_partial_line_is_read_whole() {
    let (read, mut write) = std::io::pipe().unwrap();
    let mut channel = Channel::from_pipe(Some(read.into()), None).unwrap().line_buffered();
    write.write_all(b"half").unwrap();
    assert_eq!(channel.read().unwrap(), b"", "the writer is still there");
    channel.close();
    assert_eq!(channel.read().unwrap(), b"half");
    assert!(matches!(channel.read(), Err(Error::EndpointClosed)));
    drop(write);
}

#[test]
fn a_borrowed_pipe_reads_writes_and_never_closes_its_fds() {
    let (read, write) = std::io::pipe().unwrap();
    let (read, write): (OwnedFd, OwnedFd) = (read.into(), write.into());
    let mut channel = Channel::from_borrowed_pipe(Some(read.as_raw_fd()), Some(write.as_raw_fd())).unwrap();
    assert!(channel.is_borrowed());
    channel.write(b"round trip").unwrap();
    assert_eq!(read_exactly(&mut channel, 10), b"round trip");
    channel.close();
    drop(channel);
    // Both fds are still ours and open.
    let mut writer = std::fs::File::from(write);
    writer.write_all(b"still open").unwrap();
    let mut again = Channel::from_pipe(Some(read), None).unwrap();
    assert_eq!(read_exactly(&mut again, 10), b"still open");
}

#[test]
fn a_borrowed_socket_works_in_a_reactor_and_comes_back_open() {
    use std::time::Duration;
    let (ours, theirs) = UnixStream::pair().unwrap();
    let channel = Channel::from_borrowed_socket(ours.as_raw_fd()).unwrap();
    let mut reactor = procloop::Reactor::new().unwrap();
    let token = reactor.register(channel).unwrap();
    (&theirs).write_all(b"ping").unwrap();
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + DEADLINE;
    while got.len() < 4 && std::time::Instant::now() < deadline {
        reactor
            .poll_once(Some(Duration::from_millis(100)), |_, event| {
                if let procloop::ReactorEvent::Data { data, .. } = event {
                    got.extend_from_slice(data);
                }
            })
            .unwrap();
    }
    assert_eq!(got, b"ping");
    drop(reactor.unregister(token));
    drop(reactor);
    (&ours).write_all(b"pong").unwrap();
    let mut buf = [0u8; 4];
    std::io::Read::read_exact(&mut &theirs, &mut buf).unwrap();
    assert_eq!(&buf, b"pong", "the socket outlived the channel and the reactor");
}

#[test]
fn borrowing_a_bad_fd_is_an_error_that_names_it() {
    let err = Channel::from_borrowed_pipe(Some(-1), None).unwrap_err();
    assert!(err.to_string().contains("read_end: -1 is not a file descriptor"), "{err}");
    let (read, _write) = std::io::pipe().unwrap();
    let err = Channel::from_borrowed_socket(read.as_raw_fd()).unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert!(matches!(err, Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidInput));
}

#[test]
fn debug_of_a_channel_shows_lengths_not_bytes() {
    let mut reactor = procloop::Reactor::new().unwrap();
    let (channel, mut peer) = procloop::testing::TestChannel::pair();
    let token = reactor.register(channel).unwrap();
    reactor.pause(token);
    peer.put(&[b'x'; 60_000]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reactor.channel(token).unwrap().buffered() < 60_000 {
        assert!(std::time::Instant::now() < deadline);
        reactor.poll_once(Some(std::time::Duration::from_millis(10)), |_, e| panic!("{e:?}")).unwrap();
    }
    let text = format!("{:?}", reactor.channel(token).unwrap());
    assert!(text.len() < 1_000, "{} characters", text.len());
    assert!(text.contains("buffered: 60000"), "{text}");
}
