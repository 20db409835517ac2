# app/controllers/bids_controller.rb -- a vendor bids: the customer is told at once through Herald.
class BidsController < ApplicationController
  skip_forgery_protection # an API endpoint in this fixture
  def create
    queued = Herald.notify(params.require(:customer), :bid,
                           { amount: Integer(params.require(:amount)), vendor: current_user.id, at: Time.now.utc })
    render json: { queued: queued }
  end
end
