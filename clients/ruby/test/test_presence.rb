# test_presence.rb -- online?/presence ask the broker, and fail clearly when it does not answer.
require_relative "test_helper"

class TestPresence < HeraldTestCase
  def test_presence_true_and_false
    configure_for_stack
    here = fresh_user("here")
    away = fresh_user("away")
    ws_for(here)
    assert_equal true, Herald.online?(here), "a user with an open websocket is online"
    assert_equal false, Herald.online?(away), "a user without one is not"
    assert_equal({ here => true, away => false }, Herald.presence([here, away]),
                 "presence answers for every user asked")
  end

  def test_user_goes_offline_when_socket_closes
    configure_for_stack
    user = fresh_user("leaving")
    client = ws_for(user)
    client.close
    @clients.delete(client)
    wait_until("#{user} offline") { !Herald.online?(user) }
    pass # reaching here proves presence follows the disconnect
  end

  def test_timeout_when_broker_does_not_answer
    silent = "tcp://127.0.0.1:#{free_port}"
    Herald.configure do |c|
      c.control = silent
      c.control_timeout_ms = 200
    end
    err = assert_raises(Herald::Timeout, "no broker on the control endpoint raises Herald::Timeout") do
      Herald.online?("anyone")
    end
    assert_includes err.message, silent, "the error names the endpoint that did not answer"
    assert_raises(Herald::Timeout, "the socket is reset, so the next call times out again instead of an FSM error") do
      Herald.presence(["anyone"])
    end
  end

  def test_presence_recovers_after_a_timeout
    configure_for_stack(control_timeout_ms: 2000)
    user = fresh_user("again")
    assert_equal false, Herald.online?(user), "a working broker answers"
    assert_equal({}, Herald.presence([]), "an empty list needs no request")
  end
end
