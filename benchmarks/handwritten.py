"""The baseline for `ssmlab build`'s call count: a plain boto3 script that creates the same lab.

What a careful engineer would write by hand, once, with no idempotency: no lookups before
creating, the AZ and root device taken as known, the same waiters.
"""

from __future__ import annotations

import json


def build(session, endpoint_url: str, region: str, name: str) -> None:
    def client(service):
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    ec2, iam, ssm = client("ec2"), client("iam"), client("ssm")
    tags = lambda kind, role: [{"ResourceType": kind, "Tags": [{"Key": "ssmlab:lab", "Value": name},  # noqa: E731
                                                              {"Key": "Name", "Value": f"{name}-{role}"}]}]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=tags("vpc", "vpc"))["Vpc"]["VpcId"]
    ec2.get_waiter("vpc_available").wait(VpcIds=[vpc], WaiterConfig={"Delay": 1})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone=f"{region}a",
                               TagSpecifications=tags("subnet", "private-a"))["Subnet"]["SubnetId"]
    ec2.get_waiter("subnet_available").wait(SubnetIds=[subnet], WaiterConfig={"Delay": 1})
    table = ec2.create_route_table(VpcId=vpc, TagSpecifications=tags("route-table", "private-rt"))["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    https = lambda: [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}]  # noqa: E731
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    endpoint_sg = ec2.create_security_group(GroupName=f"{name}-endpoints", Description="endpoints", VpcId=vpc,
                                            TagSpecifications=tags("security-group", "endpoints"))["GroupId"]
    instance_sg = ec2.create_security_group(GroupName=f"{name}-instance", Description="instance", VpcId=vpc,
                                            TagSpecifications=tags("security-group", "instance"))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=endpoint_sg, IpPermissions=https())
    ec2.revoke_security_group_egress(GroupId=endpoint_sg, IpPermissions=everything)
    ec2.authorize_security_group_egress(GroupId=instance_sg, IpPermissions=https())
    ec2.revoke_security_group_egress(GroupId=instance_sg, IpPermissions=everything)
    for service in ("ssm", "ssmmessages", "ec2messages"):
        ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=f"com.amazonaws.{region}.{service}",
                                SubnetIds=[subnet], SecurityGroupIds=[endpoint_sg], PrivateDnsEnabled=True,
                                TagSpecifications=tags("vpc-endpoint", f"{service}-endpoint"))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = f"{name}-ssm-instance-role"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-ssm-instance-profile")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"{name}-ssm-instance-profile", RoleName=role)
    image = ssm.get_parameter(Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]
    instance = ec2.run_instances(
        ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[instance_sg],
        IamInstanceProfile={"Arn": profile}, MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": True, "VolumeSize": 8}}],
        TagSpecifications=tags("instance", "instance"),
    )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig={"Delay": 1})
