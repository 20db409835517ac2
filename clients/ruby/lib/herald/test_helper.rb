# herald/test_helper.rb -- assertions on what the app sent through Herald, for Minitest and RSpec.
require "herald"

module Herald
  # Include in a Minitest (ActiveSupport::TestCase, ActionDispatch::
  # IntegrationTest) or RSpec example group, with Herald.test_mode! on:
  #
  #   assert_herald_notified "alice", :bid
  #   assert_herald_notified current_user, :bid, data: { amount: 120 }
  #   assert_herald_notified("alice", "bid", count: 2) { post bids_path, params: ... }
  #   assert_herald_published "order:42", :bid
  #   assert_herald_broadcast :maintenance
  #   assert_no_herald_notifications { get root_path }
  #   herald_notifications  # => [Herald::Testing::Notification, ...]
  #
  # Records are cleared before each test (Minitest's before_setup; for
  # RSpec a before hook is added when the module is included in an
  # example group). With a block, only what the block sent counts.
  # data: matches the data as the browser gets it (keys as strings; give
  # symbols or strings), or a Proc called with it.
  module TestHelper
    # Raised outside Minitest and RSpec.
    class Failure < StandardError; end

    def self.included(base)
      base.before { Herald::Testing.clear! } if base.respond_to?(:before) && !base.method_defined?(:before_setup)
    end

    # Minitest calls this before setup.
    def before_setup
      Herald::Testing.clear!
      super if defined?(super)
    end

    def herald_notifications
      Herald::Testing.notifications
    end

    def assert_herald_notified(user, event, data: :any, count: nil, &block)
      id = Herald::Envelope.check_user(user)
      s_herald_assert(:notify, "notify of #{id.inspect}", event, data, count, block) { |n| n.to.include?(id) }
    end

    def assert_herald_published(channel, event, data: :any, count: nil, &block)
      name = Herald::Envelope.check_channel(channel)
      s_herald_assert(:publish, "publish to #{name.inspect}", event, data, count, block) { |n| n.channel == name }
    end

    def assert_herald_broadcast(event, data: :any, count: nil, &block)
      s_herald_assert(:broadcast, "broadcast", event, data, count, block) { true }
    end

    def assert_no_herald_notifications(&block)
      s_herald_need_test_mode
      got = s_herald_during(block)
      s_herald_check(got.empty?, "expected no Herald notifications, got #{got.size}: #{s_herald_list(got)}")
    end

    private

    def s_herald_assert(kind, what, event, data, count, block)
      s_herald_need_test_mode
      name = Herald::Envelope.check_event(event)
      got = s_herald_during(block)
      same = got.select { |n| n.kind == kind && n.event == name && yield(n) }
      hits = same.select { |n| s_herald_data_matches?(data, n.data) }
      want = data == :any ? "" : " with data #{data.is_a?(Proc) ? 'matching the block' : Herald::Envelope.plain(data).inspect}"
      if count
        s_herald_check(hits.size == count, "expected #{count} Herald #{what} #{name.inspect}#{want}, got #{hits.size}; " \
                                           "recorded: #{s_herald_list(got)}")
      else
        s_herald_check(!hits.empty?, "expected a Herald #{what} #{name.inspect}#{want}; recorded: #{s_herald_list(got)}")
      end
      hits.first
    end

    def s_herald_data_matches?(want, data)
      return true if want == :any
      return want.call(data) ? true : false if want.is_a?(Proc)

      Herald::Envelope.plain(want) == data
    end

    def s_herald_during(block)
      return Herald::Testing.notifications unless block

      before = Herald::Testing.notifications.size
      block.call
      Herald::Testing.notifications.drop(before)
    end

    def s_herald_need_test_mode
      return if Herald.test_mode?

      s_herald_check(false, "Herald is not in test mode (call Herald.test_mode! in your test helper): " \
                            "nothing is recorded")
    end

    def s_herald_list(notes)
      return "none" if notes.empty?

      notes.first(10).map do |n|
        where = case n.kind
                when :notify then n.to.join(",")
                when :publish then "##{n.channel}"
                else "*"
                end
        "#{n.event}->#{where} #{n.data.inspect}"
      end.join("; ") + (notes.size > 10 ? " (and #{notes.size - 10} more)" : "")
    end

    # A failure the running framework reports as a failed assertion.
    def s_herald_check(ok, message)
      if respond_to?(:assert)
        assert(ok, message)
      elsif !ok
        raise RSpec::Expectations::ExpectationNotMetError, message if defined?(RSpec::Expectations)

        raise Failure, message
      end
    end
  end
end
