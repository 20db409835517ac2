# app/controllers/bids_controller.rb -- a vendor bids: the customer is told at once through Herald.
class BidsController < ApplicationController
  skip_forgery_protection # an API endpoint in this fixture

  # confirm=1: the broker's commit is awaited and answered ({ offset:, epoch:, ... }).
  def create
    customer = params.require(:customer)
    data = { amount: Integer(params.require(:amount)), vendor: current_user.id, at: Time.now.utc }
    if params[:confirm].present?
      render json: Herald.notify(customer, :bid, data, confirm: true)
    else
      render json: { queued: Herald.notify(customer, :bid, data) }
    end
  end
end
