# test_confirm.rb -- notify(confirm: true) and idempotency_key through the real broker and gateway.
require_relative "test_helper"

class TestConfirm < HeraldTestCase
  def test_confirmed_notify_answers_offset_and_reaches_client
    configure_for_stack
    user = fresh_user("conf")
    client = ws_for(user)
    got = Herald.notify(user, "paid", { order: 7 }, id: "p-7", confirm: true)
    assert_kind_of Integer, got[:offset], "the broker's offset"
    assert_match(/\A\h{16}\z/, got[:epoch], "the broker's epoch")
    assert_equal false, got[:duplicate]
    assert_match(/\Arb-\h{32}\z/, got[:idempotency_key], "a key is made when none is given")
    ev = client.events(1).first
    assert_equal [got[:offset], "p-7"], [ev["offset"], ev["id"]], "delivered at the confirmed offset"
  end

  def test_same_key_is_one_event
    configure_for_stack
    user = fresh_user("dup")
    client = ws_for(user)
    key = "order-#{SecureRandom.hex(4)}"
    first = Herald.notify(user, "paid", 1, idempotency_key: key, confirm: true)
    again = Herald.notify(user, "paid", 2, idempotency_key: key, confirm: true)
    assert_equal first.merge(duplicate: true), again, "a retry is answered with the first offset"
    # a plain push with the key is dropped by the broker as well
    Herald.notify(user, "paid", 3, idempotency_key: key)
    marker = Herald.notify(user, "marker", nil, confirm: true)
    got = client.events(2)
    assert_equal [[first[:offset], 1], [marker[:offset], nil]], got.map { |e| [e["offset"], e["data"]] },
                 "the key's event reaches the client once, then the marker"
  end

  def test_refused_and_bad_key
    configure_for_stack(max_event_bytes: 1 << 20)
    err = assert_raises(Herald::ControlError) do
      Herald.notify(fresh_user, "big", "x" * 70_000, confirm: true)
    end
    assert_includes err.message, "invalid (too_large)", "the broker's refusal and its reason"
    assert_raises(ArgumentError) { Herald.notify("a", "e", nil, idempotency_key: "k" * 129) }
    assert_raises(ArgumentError) { Herald.notify("a", "e", nil, idempotency_key: "", confirm: true) }
  end

  def test_unconfirmed_names_its_key
    silent = "tcp://127.0.0.1:#{free_port}"
    Herald.configure do |c|
      c.control = silent
      c.confirm_timeout_ms = 2000
    end
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    err = assert_raises(Herald::Unconfirmed) do
      Herald.notify("a", "e", nil, idempotency_key: "key-9", confirm: true)
    end
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0, :>=, 2.0, "retried for the whole budget"
    assert_equal "key-9", err.idempotency_key
    assert_includes err.message, silent
    assert_kind_of Herald::Timeout, err, "rescue Herald::Timeout catches it too"
  end
end
