//! The public types have the traits their docs promise: a user moves a
//! runner or channel to another thread, keeps tokens and timer ids in maps,
//! and copies limits and usages around.

fn send<T: Send>() {}
fn send_sync_static<T: Send + Sync + 'static>() {}
fn copy_eq_hash_debug<T: Copy + Eq + std::hash::Hash + std::fmt::Debug>() {}
fn copy_partial_eq_debug<T: Copy + PartialEq + std::fmt::Debug>() {}

#[test]
fn public_types_have_their_traits() {
    send::<procloop::Channel>();
    send::<procloop::Reactor>();
    send::<procloop::Runner>();
    send_sync_static::<procloop::Error>();
    send_sync_static::<procloop::Waker>();
    copy_eq_hash_debug::<procloop::Token>();
    copy_eq_hash_debug::<procloop::TimerId>();
    copy_eq_hash_debug::<procloop::Signal>();
    copy_partial_eq_debug::<procloop::Limit>();
    copy_partial_eq_debug::<procloop::Usage>();
    copy_partial_eq_debug::<procloop::TreeUsage>();
    copy_eq_hash_debug::<procloop::Cgroups>();
    let containment: fn(&procloop::Containment) -> procloop::Containment = Clone::clone;
    let _ = containment;
    let waker: fn(&procloop::Waker) -> procloop::Waker = Clone::clone;
    let _ = waker;
    let app = procloop::App::new("cat");
    let _copy = app.clone();
    let _start = procloop::Start::default();
    assert_eq!(procloop::Buffering::default(), procloop::Buffering::Bytes);
    assert_eq!(procloop::Stderr::default(), procloop::Stderr::Inherit);
    assert_eq!(procloop::Restart::default(), procloop::Restart::Never);
    assert_eq!(procloop::Cgroups::default(), procloop::Cgroups::Off);
}
